import Foundation
import GRDB
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
}

extension Vault {
    /// Loads a user account and checks its MAC (StateMAC, `.user`).
    /// - Throws: `VaultError.integrity` when the row was changed outside the vault.
    func findUser(_ db: Database, username: String) throws -> UserRecord? {
        try authenticatedUser(
            Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE username = ?"), arguments: [username]))
    }

    /// `findUser(_:username:)` by id.
    func findUser(_ db: Database, id: ID) throws -> UserRecord? {
        try authenticatedUser(
            Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE id = ?"), arguments: [Data(id.bytes)]))
    }

    /// Decodes a `users` row after checking its MAC.
    func authenticatedUser(_ row: Row?) throws -> UserRecord? {
        guard let row else { return nil }
        try checkAuthenticated(.user, row, fields: Self.userFields)
        return try UserRecord(row: row)
    }
}
