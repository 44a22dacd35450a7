import Foundation
import GRDB
import Logging
import Synchronization
import VaultCrypto

/// Settings that are not key material; defaults follow API.md.
public struct VaultSettings: Sendable {
    public var sessionIdleSeconds: Int64 = 15 * 60
    public var sessionLifetimeSeconds: Int64 = 8 * 3600
    public var reopenWindowDays: Int64 = 30
    public var enrollmentCodeHours: Int64 = 72
    public var maxConcurrentDerivations = 2
    /// Passphrase checks allowed to wait for a derivation slot; beyond this, 429 at once.
    public var maxQueuedDerivations = 16
    /// How long an approved access request or a break-glass lasts.
    public var grantSeconds: Int64 = 3600
    /// A checkpoint is signed whenever the seq of a new entry is a multiple of this (0: never on count).
    public var checkpointEvery = 1000
    /// `serve` signs a checkpoint this often when entries were added (seconds).
    public var checkpointSeconds: Int64 = 60

    public init() {}
}

/// Who is acting, for policy and the access log.
public struct Caller: Sendable {
    public var actor: String
    public var role: String
    public var requestID: String

    public init(actor: String, role: String, requestID: String) {
        self.actor = actor
        self.role = role
        self.requestID = requestID
    }

    /// A CLI operator: `cli:<os user>`.
    public static func cli(requestID: String = ID.v4().description) -> Caller {
        let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
        return Caller(actor: "cli:\(user)", role: "cli", requestID: requestID)
    }
}

/// The vault: database, keys, sessions. Every domain operation is a method in an extension,
/// named by intent; each one records itself in the access log in the transaction that performs it.
public final class Vault: Sendable {
    public let directory: URL
    public let database: VaultDatabase
    public let keys: VaultKeys
    public let clock: VaultClock
    public let settings: VaultSettings
    public let kdfProfile: KDFParameters.Profile
    public let minRetentionDays: Int
    public let sessions: SessionStore
    let derivations: DerivationLimiter
    let throttle = UnlockThrottle()
    let verified = VerifiedSignatures()
    let manifests = VerifiedManifests()
    let manifestHeads: ManifestHeads
    let hints = IngestHints()
    let relayTokens = RelayTokenCache()
    let stateMAC: StateMAC
    let checkpointAppender: CheckpointAppender
    let logger: Logger

    public static func databasePath(_ directory: URL) -> String {
        directory.appendingPathComponent("vault.sqlite").path
    }
    public static func keysDirectory(_ directory: URL) -> URL { directory.appendingPathComponent("keys") }

    /// Creates a new vault in `directory` (which must not hold one).
    /// - Throws: `VaultError.conflict` when a vault exists there.
    public static func create(
        at directory: URL, kdf: KDFParameters.Profile = .moderate, minRetentionDays: Int? = nil,
        clock: VaultClock = .system
    ) throws -> Vault {
        let fm = FileManager.default
        if fm.fileExists(atPath: databasePath(directory)) || fm.fileExists(atPath: keysDirectory(directory).path) {
            throw VaultError.conflict("\(directory.path) already holds a vault; choose another --data directory")
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let vaultID = ID.v4()
        _ = try VaultKeys.create(in: keysDirectory(directory), vaultID: vaultID)
        // SQLite gives the WAL and shared-memory files the database file's mode: create it 0600 first.
        guard fm.createFile(atPath: databasePath(directory), contents: nil, attributes: [.posixPermissions: 0o600])
        else {
            throw VaultError(.storageUnavailable, "cannot create \(databasePath(directory))")
        }
        let db = try VaultDatabase(path: databasePath(directory))
        let floor = minRetentionDays ?? (kdf == .moderate ? 365 : 0)
        guard floor >= 0 else { throw VaultError.invalid("--min-retention-days must be 0 or more") }
        try db.transactionSync { db in
            let meta: [(String, DatabaseValueConvertible)] = [
                ("vault_id", Data(vaultID.bytes)), ("kdf_profile", kdf.rawValue), ("min_retention_days", floor),
                ("created_at", clock.milliseconds()),
            ]
            for (k, v) in meta {
                try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)", arguments: [k, v])
            }
        }
        return try open(at: directory, clock: clock)
    }

    /// Opens an existing vault, checking key-file permissions and that the keys belong to it.
    /// - Throws: `VaultError.notFound` with the command to run when there is no vault; `.forbidden` on loose key files.
    public static func open(
        at directory: URL, clock: VaultClock = .system, settings: VaultSettings = VaultSettings(),
        logger: Logger = Logger(label: "consultvault")
    ) throws -> Vault {
        guard FileManager.default.fileExists(atPath: databasePath(directory)) else {
            throw VaultError.notFound(
                "no vault at \(directory.path); run `consultvault init --data \(directory.path)` first")
        }
        let meta = try VaultDatabase.readMeta(path: databasePath(directory))
        guard let idData = meta["vault_id"].flatMap({ Data.fromDatabaseValue($0) }),
            let vaultID = ID(bytes: Array(idData))
        else { throw VaultError.integrity("vault metadata is missing its id") }
        let profile =
            meta["kdf_profile"].flatMap { String.fromDatabaseValue($0) }.flatMap(KDFParameters.Profile.init)
            ?? .moderate
        let floor = meta["min_retention_days"].flatMap { Int.fromDatabaseValue($0) } ?? 365
        let keys = try VaultKeys.load(from: keysDirectory(directory), expectedVaultID: vaultID)
        let stateMAC = try StateMAC(boxKey: keys.box, logger: logger)
        let db = try VaultDatabase(path: databasePath(directory), readonly: false, stateMAC: stateMAC)
        try db.verifySchema()
        return Vault(
            stateMAC: stateMAC, directory: directory, database: db, keys: keys, clock: clock, settings: settings,
            kdfProfile: profile,
            minRetentionDays: floor, logger: logger)
    }

    private init(
        stateMAC: StateMAC, directory: URL, database: VaultDatabase, keys: VaultKeys, clock: VaultClock,
        settings: VaultSettings,
        kdfProfile: KDFParameters.Profile, minRetentionDays: Int, logger: Logger
    ) {
        self.directory = directory
        self.database = database
        self.keys = keys
        self.clock = clock
        self.settings = settings
        self.kdfProfile = kdfProfile
        self.minRetentionDays = minRetentionDays
        self.sessions = SessionStore(
            clock: clock, idle: settings.sessionIdleSeconds, lifetime: settings.sessionLifetimeSeconds)
        self.derivations = DerivationLimiter(
            limit: settings.maxConcurrentDerivations, maxWaiting: settings.maxQueuedDerivations)
        self.stateMAC = stateMAC
        self.manifestHeads = ManifestHeads(directory: directory)
        self.checkpointAppender = CheckpointAppender(file: CheckpointFile(directory: directory), logger: logger)
        self.logger = logger
        stateMAC.whenFailing { [weak self] record in self?.recordIntegrityFailure(record) }
    }

    /// Checks a signature by the vault's current or any earlier signing key (attestations, epochs, manifests).
    func verifyVaultSignature(_ signature: [UInt8], _ message: [UInt8]) -> Bool {
        keys.allSigningKeys.contains { verified.verify(signature: signature, message: message, publicKey: $0) }
    }

    /// True for demo and test vaults (weaker Argon2id than MODERATE): `serve` warns at every start.
    public var isDemoVault: Bool { kdfProfile != .moderate }

    /// The Argon2id parameters new wraps use.
    public var kdfParameters: KDFParameters { .profile(kdfProfile) }

    func now() -> Int64 { clock.milliseconds() }

    /// Appends an entry stamped now. A free-text `reason` is never stored in clear: it is sealed (see
    /// `sealReason`) to the auditors' key and, when the action concerns a desk, to its oversight key.
    func record(
        _ db: Database, _ caller: Caller, _ action: String, _ target: String, _ outcome: AuditEntry.Outcome = .allowed,
        envelopeHash: [UInt8]? = nil, reason: String? = nil, desk: DeskState? = nil
    ) throws {
        let sealed = try reason.map { try sealReason($0, in: db, desk: desk) }
        let entry = try AuditLog.append(
            AuditEntry(
                time: now(), actor: caller.actor, role: caller.role, action: action, target: target, outcome: outcome,
                requestID: caller.requestID, envelopeHash: envelopeHash, reasonSealed: sealed), in: db,
            memo: database.batchMemo)
        try checkpointIfDue(db, seq: entry.seq)
    }

    /// Seals a free-text reason to the auditors' key and the desk's oversight key:
    /// canonical(seal(auditors), seal(oversight) or empty), each a crypto_box_seal of the UTF-8 reason.
    /// - Throws: `.conflict` when no auditor has enrolled (there is no auditors' key to seal to).
    func sealReason(_ reason: String, in db: Database, desk: DeskState?) throws -> [UInt8] {
        let pk = try auditorsPublicKey(db)
        let text = Array(reason.utf8)
        let forOversight = try desk.map { try SealedBox.seal(text, to: $0.manifest.oversightPublic) } ?? []
        return Canonical.encode([try SealedBox.seal(text, to: pk), forOversight])
    }

    /// The auditors' public key, after checking the vault's signature on it.
    /// - Throws: `.conflict` when no auditor has enrolled; `.integrity` on a bad signature.
    func auditorsPublicKey(_ db: Database) throws -> [UInt8] {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT public_key, signature FROM auditor_keys ORDER BY created_at DESC, rowid DESC LIMIT 1")
        else { throw VaultError.conflict("no auditor has enrolled; reasons cannot be recorded yet") }
        let pk = Array(row["public_key"] as Data)
        guard
            verifyVaultSignature(Array(row["signature"] as Data), auditorsKeyMessage(pk))
        else { throw VaultError.integrity("the auditors' key does not carry the vault's signature") }
        return pk
    }

    /// Records a denial in its own transaction, then throws it.
    func deny(_ caller: Caller, _ action: String, _ target: String, _ error: VaultError) async throws -> Never {
        try await database.transaction { db in try self.record(db, caller, action, target, .denied) }
        throw error
    }
}

/// A memo of signatures already checked (keyed by a hash of signer key, message and signature),
/// so hot paths do not re-verify an unchanged epoch or manifest. A changed byte is a new key.
final class VerifiedSignatures: Sendable {
    private let seen = Mutex<Set<[UInt8]>>([])

    func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        let key = Hashing.blake2b(parts: [publicKey, message, signature], outputLength: 32)
        if seen.withLock({ $0.contains(key) }) { return true }
        guard SigningKeyPair.verify(signature: signature, message: message, publicKey: publicKey) else { return false }
        seen.withLock {
            if $0.count > 100_000 { $0.removeAll() }
            $0.insert(key)
        }
        return true
    }
}

/// Desk manifests whose whole signature chain has been verified, keyed by a hash of the stored bytes
/// (desk id, body, signer, signature): the ingest hot path parses and verifies a manifest once per version.
final class VerifiedManifests: Sendable {
    private let known = Mutex<[[UInt8]: DeskManifest]>([:])

    func get(_ key: [UInt8]) -> DeskManifest? { known.withLock { $0[key] } }

    func put(_ key: [UInt8], _ manifest: DeskManifest) {
        known.withLock {
            if $0.count > 10_000 { $0.removeAll() }
            $0[key] = manifest
        }
    }
}

/// Advice for the ingest hot path, so sealing before the write lock needs no database read: verified desks by
/// name and each routing id's current case epoch (public key, already verified). Every hint is checked again in
/// the write transaction (manifest version, case and epoch), which seals afresh and corrects the hint when stale.
final class IngestHints: Sendable {
    private struct State {
        var desks: [String: DeskState] = [:]
        var routes: [[UInt8]: (caseID: ID, epoch: Int, publicKey: [UInt8])] = [:]
    }
    private let state = Mutex(State())

    func desk(_ name: String) -> DeskState? { state.withLock { $0.desks[name] } }
    func route(_ routing: [UInt8]) -> (caseID: ID, epoch: Int, publicKey: [UInt8])? {
        state.withLock { $0.routes[routing] }
    }

    func remember(desk: DeskState) {
        state.withLock {
            if $0.desks.count > 1000 { $0.desks.removeAll() }
            $0.desks[desk.name] = desk
        }
    }

    func remember(route: (caseID: ID, epoch: Int, publicKey: [UInt8]), for routing: [UInt8]) {
        state.withLock {
            if $0.routes.count > 100_000 { $0.routes.removeAll() }
            $0.routes[routing] = route
        }
    }
}

/// Relay tokens authenticated in the last few seconds (by token hash). Writes re-check revocation in their own
/// transaction (`assertRelayLive`), so a revoked token never writes; other relay routes follow within seconds.
final class RelayTokenCache: Sendable {
    static let lifetimeMilliseconds: Int64 = 5_000
    private let known = Mutex<[[UInt8]: (RelayPrincipal, Int64)]>([:])

    func get(_ hash: [UInt8], now: Int64) -> RelayPrincipal? {
        known.withLock { m in
            guard let (p, until) = m[hash], until > now else { return nil }
            return p
        }
    }

    func put(_ hash: [UInt8], _ principal: RelayPrincipal, now: Int64) {
        known.withLock {
            if $0.count > 10_000 { $0.removeAll() }
            $0[hash] = (principal, now + Self.lifetimeMilliseconds)
        }
    }

    /// Forgets a token at once (revocation in this process).
    func forget(name: String) {
        known.withLock { m in m = m.filter { $0.value.0.name != name } }
    }
}

/// The newest committed manifest version per desk, kept in `DIR/manifest-heads.json` (0600) outside the database,
/// so a database writer who deletes or rolls back manifest rows (even across a restart) is refused: a version that
/// goes below the anchor is a rollback. The file only lags (a crash between commit and write), never leads.
final class ManifestHeads: Sendable {
    private let seen = Mutex<[ID: Int64]>([:])
    private let file: URL?

    init(directory: URL? = nil) {
        file = directory?.appendingPathComponent("manifest-heads.json")
        guard let file, let data = try? Data(contentsOf: file),
            let stored = try? JSONDecoder().decode([String: Int64].self, from: data)
        else { return }
        seen.withLock { m in
            for (k, v) in stored { if let id = ID(k) { m[id] = v } }
        }
    }

    func highest(_ desk: ID) -> Int64 { seen.withLock { $0[desk] ?? 0 } }

    /// Records a committed version; rewrites the anchor file when it moved forward.
    func saw(_ version: Int64, for desk: ID) {
        let changed: [String: Int64]? = seen.withLock { m in
            guard version > (m[desk] ?? 0) else { return nil }
            m[desk] = version
            return Dictionary(uniqueKeysWithValues: m.map { ($0.key.description, $0.value) })
        }
        guard let changed, let file, let data = try? JSONEncoder().encode(changed) else { return }
        let temporary = file.appendingPathExtension("tmp")
        guard
            FileManager.default.createFile(
                atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600])
        else { return }
        _ = rename(temporary.path, file.path)  // atomic replace
    }
}
