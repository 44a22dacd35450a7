import Foundation
import GRDB
import Synchronization
import VaultCrypto

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
            if try self.findUser(db, username: username) != nil {
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
            try self.authenticateNewRow(db, .user, table: "users", key: ("id", Data(id.bytes)))
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
        let found = try await database.read { db in try self.findUser(db, username: username) }
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
            guard let again = try self.findUser(db, id: user.id), again.state == "pending",
                again.enrollCodeHash == codeHash
            else { throw badCode }
            try self.updateAuthenticated(
                db, .user, table: "users", key: ("id", Data(user.id.bytes)), fields: Self.userFields,
                change: [
                    "state": "active", "enroll_code_hash": nil, "enroll_expires_at": nil,
                    "box_public": Data(box.publicKey), "sign_public": Data(signing.publicKey),
                    "attestation": Data(attestation), "wrapped_keys": Data(wrapped), "kdf_salt": Data(salt),
                    "kdf_ops": Int64(params.opsLimit), "kdf_mem": params.memLimit, "enrolled_at": self.now(),
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
        guard let user = try await database.read({ db in try self.findUser(db, username: username) }) else {
            throw VaultError(.unauthenticated, "wrong username or passphrase")
        }
        return try await unlockKeys(user, passphrase: passphrase)
    }

    /// Attested public keys of an enrolled user (for fingerprints and tests).
    public func userKeys(username: String) async throws -> UserKeys {
        guard let user = try await database.read({ db in try self.findUser(db, username: username) }) else {
            throw VaultError.notFound("no user \(username)")
        }
        return try verifiedKeys(user)
    }

    func auditorsKeyMessage(_ publicKey: [UInt8]) -> [UInt8] {
        Canonical.encode([Array("consultvault/auditors-key/v1".utf8), keys.vaultID.bytes, publicKey])
    }

}
