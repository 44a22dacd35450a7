import Foundation
import GRDB
import VaultCrypto

/// Account, desk and token listings for admins: metadata only, never key material, codes or content.
public struct UserSummary: Sendable, Equatable {
    public let username: String
    public let role: Role
    public let state: String
    public let fingerprint: String?
}

public struct DeskSummary: Sendable, Equatable {
    public let name: String
    public let retentionDays: Int
    public let manifestVersion: Int
    public let members: Int
}

public struct TokenSummary: Sendable, Equatable {
    public let name: String
    public let desks: [String]
    public let createdAt: Int64
    public let revoked: Bool
}

extension Vault {
    public func listUsers() async throws -> [UserSummary] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT username, role, state, box_public, sign_public FROM users ORDER BY username"
            )
            .map { row in
                let box = (row["box_public"] as Data?).map { Array($0) }
                let sign = (row["sign_public"] as Data?).map { Array($0) }
                return UserSummary(
                    username: row["username"], role: Role(rawValue: row["role"]) ?? .counselor, state: row["state"],
                    fingerprint: box.flatMap { b in sign.map { UserKeys.fingerprint(boxPublic: b, signPublic: $0) } })
            }
        }
    }

    public func listDesks() async throws -> [DeskSummary] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.name, d.retention_days, d.manifest_version,
                        (SELECT count(*) FROM desk_members m WHERE m.desk_id = d.id AND m.state = 'confirmed') AS members
                    FROM desks d ORDER BY d.name
                    """
            ).map {
                DeskSummary(
                    name: $0["name"], retentionDays: $0["retention_days"], manifestVersion: $0["manifest_version"],
                    members: $0["members"])
            }
        }
    }

    public func listTokens() async throws -> [TokenSummary] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.name, t.created_at, t.revoked_at, group_concat(d.name, ',') AS desks FROM relay_tokens t
                    LEFT JOIN relay_token_desks td ON td.token_id = t.id LEFT JOIN desks d ON d.id = td.desk_id
                    GROUP BY t.id ORDER BY t.name
                    """
            ).map {
                TokenSummary(
                    name: $0["name"],
                    desks: (($0["desks"] as String?) ?? "").split(separator: ",").map(String.init).sorted(),
                    createdAt: $0["created_at"], revoked: ($0["revoked_at"] as Int64?) != nil)
            }
        }
    }

    /// Revokes a relay token at once (rotation without downtime: issue the new one first).
    public func revokeRelayToken(name: String, caller: Caller) async throws {
        try await database.transaction { db in
            try db.execute(
                sql: "UPDATE relay_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                arguments: [self.now(), name])
            guard db.changesCount == 1 else { throw VaultError.notFound("no active relay token \(name)") }
            // Revoking is always safe, so the row gets a fresh MAC whatever it carried.
            try self.authenticateNewRow(db, .relayToken, table: "relay_tokens", key: ("name", name))
            try self.record(db, caller, "token.revoke", "token:\(name)")
        }
        relayTokens.forget(name: name)
    }

    /// Removes a member from a desk and rotates the desk's keys (the removed user's wraps go at once).
    public func removeMember(desk name: String, username: String, caller: Caller) async throws {
        try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            guard let user = try self.findUser(db, username: username) else {
                throw VaultError.notFound("no user \(username)")
            }
            try db.execute(
                sql: "DELETE FROM desk_members WHERE desk_id = ? AND user_id = ?",
                arguments: [Data(desk.id.bytes), Data(user.id.bytes)])
            guard db.changesCount == 1 else { throw VaultError.notFound("\(username) is not a member of \(name)") }
            try self.scheduleRotation(db, deskID: desk.id, reason: "member.remove \(username)")
            try self.record(db, caller, "member.remove", "desk:\(name) user:\(username)")
        }
        try await runPendingRotations(caller: caller)
    }

    /// Disables a user: their sessions end at once, they leave every desk, and those desks' keys rotate.
    public func disableUser(username: String, caller: Caller) async throws {
        let userID: ID = try await database.transaction { db in
            guard let user = try self.findUser(db, username: username) else {
                throw VaultError.notFound("no user \(username)")
            }
            guard user.state != "disabled" else { throw VaultError.conflict("\(username) is already disabled") }
            try self.updateAuthenticated(
                db, .user, table: "users", key: ("id", Data(user.id.bytes)), fields: Self.userFields,
                change: ["state": "disabled", "enroll_code_hash": nil])
            // Every desk whose signed manifest lists them rotates (not only those the membership rows name).
            var desks = Set(
                try Data.fetchAll(
                    db, sql: "SELECT desk_id FROM desk_members WHERE user_id = ? AND state = 'confirmed'",
                    arguments: [Data(user.id.bytes)]
                ).compactMap { ID(bytes: Array($0)) })
            for raw in try Data.fetchAll(db, sql: "SELECT id FROM desks") {
                guard let id = ID(bytes: Array(raw)), let desk = try? self.desk(db, id: id),
                    desk.manifest.member(username) != nil
                else { continue }
                desks.insert(id)
            }
            try db.execute(sql: "DELETE FROM desk_members WHERE user_id = ?", arguments: [Data(user.id.bytes)])
            for id in desks.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
                try self.scheduleRotation(db, deskID: id, reason: "user.disable \(username)")
            }
            // An auditor's departure rotates the auditors' key: later reasons are sealed to a key they never had.
            if user.role == .auditor { try self.rotateAuditorsKey(db, removing: user) }
            try self.record(db, caller, "user.disable", "user:\(username)")
            return user.id
        }
        sessions.end(userID: userID)
        try await runPendingRotations(caller: caller)
    }
}
