import Foundation
import GRDB

/// A live time-limited grant on a case: an approved access request or a break-glass, until its expiry.
public struct LiveGrant: Sendable, Equatable {
    public let caseID: ID
    public let grantee: String
    /// `request` or `breakglass`.
    public let kind: String
    public let expiresAt: Int64
}

/// What a supervisor oversees on a desk beyond the case listing: who is unlocked now, the live grants on its
/// cases, a retention shortening waiting for approval. Metadata only.
public struct DeskOversight: Sendable, Equatable {
    /// Confirmed members with a live session, by username.
    public let unlocked: [String]
    /// Confirmed members, by username (the assignees a supervisor may choose).
    public let members: [String]
    public let grants: [LiveGrant]
    public let pendingRetentionDays: Int?
}

extension Vault {
    /// The desk's oversight state for one of its confirmed supervisors (the console's dashboard).
    /// - Throws: `.forbidden` / `.notFound` (recorded as a denied `case.list`) for anyone else.
    public func deskOversight(desk name: String, as user: UnlockedUser, requestID: String) async throws
        -> DeskOversight
    {
        try await requireSupervisor(of: name, user, action: "case.list", requestID: requestID)
        let live = sessions.liveUserIDs()
        let now = now()
        return try await database.read { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let members = try Row.fetchAll(
                db,
                sql: """
                    SELECT u.id, u.username FROM desk_members m JOIN users u ON u.id = m.user_id
                    WHERE m.desk_id = ? AND m.state = 'confirmed' AND u.state = 'active' ORDER BY u.username
                    """, arguments: [Data(desk.id.bytes)])
            let unlocked = members.filter { row in
                ID(bytes: Array(row["id"] as Data)).map { live.contains($0) } ?? false
            }
            var grants: [LiveGrant] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT g.*, u.username FROM case_grants g JOIN cases c ON c.id = g.case_id
                    JOIN users u ON u.id = g.user_id
                    WHERE c.desk_id = ? AND g.expired = 0 AND g.expires_at > ? ORDER BY g.expires_at
                    """, arguments: [Data(desk.id.bytes), now])
            {
                // A row without its MAC is no grant (the vault refuses to act on it, so it is not shown as one).
                guard (try? self.checkGrant(row)) != nil, let caseID = ID(bytes: Array(row["case_id"] as Data)) else {
                    continue
                }
                grants.append(
                    LiveGrant(caseID: caseID, grantee: row["username"], kind: row["kind"], expiresAt: row["expires_at"])
                )
            }
            let pending = try Int.fetchOne(
                db, sql: "SELECT pending_retention_days FROM desks WHERE id = ?", arguments: [Data(desk.id.bytes)])
            return DeskOversight(
                unlocked: unlocked.map { $0["username"] }, members: members.map { $0["username"] }, grants: grants,
                pendingRetentionDays: pending)
        }
    }

    /// Desks with a retention shortening waiting for a supervisor's approval (admins' listing; metadata only).
    public func pendingRetentionChanges() async throws -> [(desk: String, days: Int, current: Int)] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT name, pending_retention_days, retention_days FROM desks
                    WHERE pending_retention_days IS NOT NULL ORDER BY name
                    """
            ).map { ($0["name"], $0["pending_retention_days"], $0["retention_days"]) }
        }
    }
}

extension Vault {
    /// When the user's own live time-limited access to the case ends (an approved request or a break-glass), if
    /// they hold one: the case page shows it. A grant row without its MAC does not count.
    /// - Throws: storage errors.
    public func grantExpiry(caseID: ID, as user: UnlockedUser) async throws -> Int64? {
        let now = now()
        return try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM case_grants WHERE case_id = ? AND user_id = ? AND expired = 0 AND expires_at > ?
                    """, arguments: [Data(caseID.bytes), Data(user.id.bytes), now]
            ).filter { (try? self.checkGrant($0)) != nil }.map { $0["expires_at"] as Int64 }.max()
        }
    }
}
