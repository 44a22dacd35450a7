import Foundation
import GRDB
import Synchronization
import VaultCrypto

/// A staff role (DESIGN.md "Who uses it").
public enum Role: String, Sendable, CaseIterable, Codable {
    case counselor, supervisor, auditor, admin
}

/// A user row as stored. Public keys count only after `verifiedKeys` checks the vault's attestation.
struct UserRecord: Sendable {
    var id: ID
    var username: String
    var role: Role
    var state: String
    var boxPublic: [UInt8]?
    var signPublic: [UInt8]?
    var attestation: [UInt8]?
    var wrappedKeys: [UInt8]?
    var salt: [UInt8]?
    var kdf: KDFParameters?
    var enrollCodeHash: [UInt8]?
    var enrollExpiresAt: Int64?

    init(row: Row) throws {
        guard let id = ID(bytes: Array(row["id"] as Data)), let role = Role(rawValue: row["role"]) else {
            throw VaultError.integrity("a user row is malformed")
        }
        self.id = id
        self.username = row["username"]
        self.role = role
        self.state = row["state"]
        self.boxPublic = (row["box_public"] as Data?).map { Array($0) }
        self.signPublic = (row["sign_public"] as Data?).map { Array($0) }
        self.attestation = (row["attestation"] as Data?).map { Array($0) }
        self.wrappedKeys = (row["wrapped_keys"] as Data?).map { Array($0) }
        self.salt = (row["kdf_salt"] as Data?).map { Array($0) }
        if let ops = row["kdf_ops"] as Int64?, let mem = row["kdf_mem"] as Int? {
            self.kdf = KDFParameters(opsLimit: UInt64(ops), memLimit: mem)
        }
        self.enrollCodeHash = (row["enroll_code_hash"] as Data?).map { Array($0) }
        self.enrollExpiresAt = row["enroll_expires_at"]
    }

    static func find(_ db: Database, username: String) throws -> UserRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM users WHERE username = ?", arguments: [username]).map(UserRecord.init)
    }

    static func find(_ db: Database, id: ID) throws -> UserRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [Data(id.bytes)]).map(UserRecord.init)
    }
}

/// Public keys of an enrolled user whose vault attestation has been checked.
public struct UserKeys: Sendable, Equatable {
    public let userID: ID
    public let username: String
    public let role: Role
    public let boxPublic: [UInt8]
    public let signPublic: [UInt8]

    public var boxKeyID: [UInt8] { Hashing.keyID(boxPublic) }

    /// First 16 bytes of BLAKE2b-256(X25519 public ‖ Ed25519 public) as 8 groups of 4 hex digits.
    public var fingerprint: String { Self.fingerprint(boxPublic: boxPublic, signPublic: signPublic) }

    public static func fingerprint(boxPublic: [UInt8], signPublic: [UInt8]) -> String {
        let h = Array(Hashing.blake2b(boxPublic + signPublic, outputLength: 32)[0..<16]).hex
        return stride(from: 0, to: 32, by: 4).map { i in
            String(h[h.index(h.startIndex, offsetBy: i)..<h.index(h.startIndex, offsetBy: i + 4)])
        }.joined(separator: " ")
    }

    /// Normalises a typed fingerprint: lowercase hex digits only.
    public static func normalize(_ s: String) -> String {
        String(s.lowercased().filter { $0.isHexDigit })
    }

    static func attestationMessage(userID: ID, username: String, role: Role, box: [UInt8], sign: [UInt8]) -> [UInt8] {
        Canonical.encode([
            Array("consultvault/user-attestation/v1".utf8), userID.bytes, Array(username.utf8),
            Array(role.rawValue.utf8),
            box, sign,
        ])
    }
}

/// A user whose secrets are unlocked, held only in a session's protected memory.
public final class UnlockedUser: Sendable {
    public let keys: UserKeys
    let box: BoxKeyPair
    let signing: SigningKeyPair
    private let unwrapped = Mutex<[[UInt8]: BoxKeyPair]>([:])

    init(keys: UserKeys, box: BoxKeyPair, signing: SigningKeyPair) {
        self.keys = keys
        self.box = box
        self.signing = signing
    }

    public var id: ID { keys.userID }
    public var username: String { keys.username }
    public var role: Role { keys.role }

    func cached(_ keyID: [UInt8]) -> BoxKeyPair? { unwrapped.withLock { $0[keyID] } }
    /// Keeps an unwrapped key for the session's lifetime, in sodium_malloc memory.
    func cache(_ pair: BoxKeyPair) {
        guard let secret = try? pair.secretKey.protectedCopy(), let kept = try? BoxKeyPair(secretKey: secret) else {
            return
        }
        unwrapped.withLock { $0[kept.keyID] = kept }
    }
    /// Drops every unwrapped desk and case key (logout, expiry, rotation).
    func forget() { unwrapped.withLock { $0.removeAll() } }

    func caller(requestID: String) -> Caller { Caller(actor: username, role: role.rawValue, requestID: requestID) }
}

extension Vault {
    public static let minimumPassphraseLength = 10

    /// Creates an account and returns its one-time enrollment code (shown once, stored only as a hash).
    /// - Throws: `.invalidRequest` for a bad username, `.conflict` when it exists.
    public func addUser(username: String, role: Role, caller: Caller) async throws -> (code: String, expiresAt: Int64) {
        guard Names.isValid(username) else { throw VaultError.invalid("username must be \(Names.rule)") }
        let code = EnrollmentCode.generate()
        let expires = now() + settings.enrollmentCodeHours * 3_600_000
        let id = ID.v4()
        try await database.transaction { db in
            if try UserRecord.find(db, username: username) != nil {
                throw VaultError.conflict("user \(username) already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO users (id, username, role, state, enroll_code_hash, enroll_expires_at, created_at)
                    VALUES (?, ?, ?, 'pending', ?, ?, ?)
                    """,
                arguments: [
                    Data(id.bytes), username, role.rawValue, Data(EnrollmentCode.hash(code)), expires, self.now(),
                ])
            try self.record(db, caller, "user.add", "user:\(username)")
        }
        return (code, expires)
    }

    /// The user chooses a passphrase with their one-time code; their key pairs are made now and attested.
    /// Code checks are throttled like unlocks (per username and address, per address) before anything is hashed.
    /// - Returns: the user's fingerprint.
    /// - Throws: `.unauthenticated` for an unknown user, a wrong, used or expired code (one message for all);
    ///   `.rateLimited` when throttled.
    public func enroll(
        username: String, code: String, passphrase: String, address: String = "local", requestID: String
    ) async throws -> String {
        let badCode = VaultError(
            .unauthenticated, "enrollment code invalid, used or expired; ask an admin for a new one")
        guard passphrase.count >= Self.minimumPassphraseLength, passphrase.utf8.count <= 1024 else {
            throw VaultError.invalid("choose a passphrase of at least \(Self.minimumPassphraseLength) characters")
        }
        let found = try await database.read { db in try UserRecord.find(db, username: username) }
        let who = Self.loggedName(typed: username, exists: found != nil)
        let caller = Caller(actor: who.actor, role: "pending", requestID: requestID)
        let codeHash = EnrollmentCode.hash(code)
        let checked = try await throttledAttempt(
            "enroll", username: username, address: address, caller: caller, target: who.target
        ) { () async throws -> UserRecord? in
            guard let user = found, user.state == "pending", let stored = user.enrollCodeHash,
                SecretBytes.constantTimeEquals(stored, codeHash), let exp = user.enrollExpiresAt, exp > now()
            else { return nil }
            return user
        }
        guard let user = checked else {
            try await deny(caller, "enroll", who.target, badCode)
        }
        let box = try BoxKeyPair.generate()
        let signing = try SigningKeyPair.generate()
        let params = kdfParameters
        let salt = SecureRandom.bytes(PasswordKDF.saltLength)
        let kek = try await derivations.derive(passphrase: passphrase, salt: salt, parameters: params)
        let wrapped = try Self.wrapUserKeys(userID: user.id, box: box, signing: signing, kek: kek)
        let keys = UserKeys(
            userID: user.id, username: username, role: user.role, boxPublic: box.publicKey,
            signPublic: signing.publicKey)
        let attestation = keys.attest(with: self.keys.signing)
        try await database.transaction { db in
            // Re-check under the write lock: a code is single use.
            guard let again = try UserRecord.find(db, id: user.id), again.state == "pending",
                again.enrollCodeHash == codeHash
            else { throw badCode }
            try db.execute(
                sql: """
                    UPDATE users SET state = 'active', enroll_code_hash = NULL, enroll_expires_at = NULL,
                        box_public = ?, sign_public = ?, attestation = ?, wrapped_keys = ?, kdf_salt = ?, kdf_ops = ?,
                        kdf_mem = ?, enrolled_at = ? WHERE id = ?
                    """,
                arguments: [
                    Data(box.publicKey), Data(signing.publicKey), Data(attestation), Data(wrapped), Data(salt),
                    Int64(params.opsLimit), params.memLimit, self.now(), Data(user.id.bytes),
                ])
            // The first auditor (or the first after every holder left) makes a new generation of the auditors' key.
            if user.role == .auditor, try !self.auditorsKeyHasHolder(db) {
                try self.storeAuditorsKey(db, recipients: [keys])
            }
            try self.record(db, caller, "enroll", "user:\(username)")
        }
        return keys.fingerprint
    }

    /// The wrapped user secrets: nonce ‖ XChaCha20-Poly1305(canon(x25519 sk, ed25519 seed)) with AAD binding ids.
    static func wrapUserKeys(userID: ID, box: BoxKeyPair, signing: SigningKeyPair, kek: SecretBytes) throws -> [UInt8] {
        var plain = box.secretKey.withUnsafeBytes { b in
            signing.seed.withUnsafeBytes { s in Canonical.encode([Array(b), Array(s)]) }
        }
        defer { SecretBytes.wipe(&plain) }
        return try AEAD.seal(
            plain, aad: userKeysAAD(userID: userID, boxKeyID: box.keyID, signKeyID: signing.keyID), key: kek)
    }

    static func userKeysAAD(userID: ID, boxKeyID: [UInt8], signKeyID: [UInt8]) -> [UInt8] {
        Canonical.encode([
            [Envelope.formatVersion], Array("consultvault/user-keys/v1".utf8), userID.bytes, boxKeyID, signKeyID,
        ])
    }

    /// Checks a user's public keys against the vault attestation; refuses a swapped key.
    func verifiedKeys(_ user: UserRecord) throws -> UserKeys {
        guard user.state != "pending", let box = user.boxPublic, let sign = user.signPublic, let att = user.attestation
        else {
            throw VaultError.conflict(
                "user \(user.username) has not enrolled yet; they run `consultvault user enroll` first")
        }
        let keys = UserKeys(userID: user.id, username: user.username, role: user.role, boxPublic: box, signPublic: sign)
        let message = UserKeys.attestationMessage(
            userID: user.id, username: user.username, role: user.role, box: box, sign: sign)
        guard verifyVaultSignature(att, message) else {
            throw VaultError.integrity(
                "the stored public keys of \(user.username) do not carry a valid vault attestation; refusing to use them"
            )
        }
        return keys
    }

    /// Unwraps a user's secrets with their passphrase (Argon2id on a worker thread, at most two at once).
    /// - Throws: `.unauthenticated` for a wrong passphrase; `.integrity` if the stored keys were tampered with.
    func unlockKeys(_ user: UserRecord, passphrase: String) async throws -> UnlockedUser {
        guard user.state == "active", let salt = user.salt, let params = user.kdf, user.wrappedKeys != nil else {
            throw VaultError(.unauthenticated, "wrong username or passphrase")
        }
        let kek = try await derivations.derive(passphrase: passphrase, salt: salt, parameters: params)
        return try openUserKeys(user, kek: kek)
    }

    func openUserKeys(_ user: UserRecord, kek: SecretBytes) throws -> UnlockedUser {
        let keys = try verifiedKeys(user)
        let aad = Self.userKeysAAD(userID: user.id, boxKeyID: keys.boxKeyID, signKeyID: Hashing.keyID(keys.signPublic))
        let plain: SecretBytes
        do {
            plain = try AEAD.openSecret(user.wrappedKeys ?? [], aad: aad, key: kek)
        } catch {
            throw VaultError(.unauthenticated, "wrong username or passphrase")
        }
        var bytes = plain.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        var fields = try Canonical.decode(bytes)
        defer { for i in fields.indices { SecretBytes.wipe(&fields[i]) } }
        guard fields.count == 2 else { throw VaultError.integrity("wrapped user keys are malformed") }
        do {
            let box = try BoxKeyPair(secretKey: SecretBytes(copying: fields[0]), expectedKeyID: keys.boxKeyID)
            let signing = try SigningKeyPair(seed: SecretBytes(copying: fields[1]), expectedPublicKey: keys.signPublic)
            return UnlockedUser(keys: keys, box: box, signing: signing)
        } catch {
            throw VaultError.integrity("unwrapped keys of \(user.username) do not match their attested public keys")
        }
    }

    /// Unlocks a user for a CLI command run `--as` them (Argon2id inline).
    public func unlockForCLI(username: String, passphrase: String) async throws -> UnlockedUser {
        guard let user = try await database.read({ db in try UserRecord.find(db, username: username) }) else {
            throw VaultError(.unauthenticated, "wrong username or passphrase")
        }
        return try await unlockKeys(user, passphrase: passphrase)
    }

    /// Attested public keys of an enrolled user (for fingerprints and tests).
    public func userKeys(username: String) async throws -> UserKeys {
        guard let user = try await database.read({ db in try UserRecord.find(db, username: username) }) else {
            throw VaultError.notFound("no user \(username)")
        }
        return try verifiedKeys(user)
    }

    func auditorsKeyMessage(_ publicKey: [UInt8]) -> [UInt8] {
        Canonical.encode([Array("consultvault/auditors-key/v1".utf8), keys.vaultID.bytes, publicKey])
    }

}

extension UserKeys {
    func attest(with signing: SigningKeyPair) -> [UInt8] {
        signing.sign(
            Self.attestationMessage(userID: userID, username: username, role: role, box: boxPublic, sign: signPublic))
    }
}

/// One-time enrollment codes: 20 Crockford base32 characters (100 bits) in groups of five.
public enum EnrollmentCode {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    public static func generate() -> String {
        let chars = (0..<20).map { _ in alphabet[Int(SecureRandom.uniform(32))] }
        return stride(from: 0, to: 20, by: 5).map { String(chars[$0..<($0 + 5)]) }.joined(separator: "-")
    }

    /// BLAKE2b-256 of the uppercase code without separators.
    public static func hash(_ code: String) -> [UInt8] {
        let normalized = code.uppercased().filter { $0 != "-" && $0 != " " }
        return Hashing.blake2b(Array(normalized.utf8))
    }
}
