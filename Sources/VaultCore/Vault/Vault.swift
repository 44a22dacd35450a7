import Foundation
import GRDB
import Logging
import Synchronization
import VaultCrypto

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
    /// Case changes for live views (the console's event stream), published after commit; metadata only.
    public let caseEvents = CaseEventHub()
    let derivations: DerivationLimiter
    let throttle = UnlockThrottle()
    let verified = VerifiedSignatures()
    let manifests = VerifiedManifests()
    let manifestHeads: ManifestHeads
    let hints = IngestHints()
    let senderSessions = SenderSessions()
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

    /// True for demo and test vaults (weaker Argon2id than MODERATE): `serve` warns at every start.
    public var isDemoVault: Bool { kdfProfile != .moderate }

    /// The Argon2id parameters new wraps use.
    public var kdfParameters: KDFParameters { .profile(kdfProfile) }

    func now() -> Int64 { clock.milliseconds() }
}
