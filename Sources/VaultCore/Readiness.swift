import Foundation
import GRDB

extension Vault {
    /// Desks none of whose confirmed supervisors has a live session: the service stalls there (DESIGN.md).
    public func desksWithoutUnlockedSupervisor() async throws -> [String] {
        let live = sessions.liveUserIDs()
        let rows = try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.name, m.user_id FROM desks d
                    LEFT JOIN desk_members m ON m.desk_id = d.id AND m.state = 'confirmed'
                    LEFT JOIN users u ON u.id = m.user_id AND u.role = 'supervisor' AND u.state = 'active'
                    WHERE m.user_id IS NULL OR u.id IS NOT NULL ORDER BY d.name
                    """
            ).map { row -> (String, ID?) in
                (row["name"], (row["user_id"] as Data?).flatMap { ID(bytes: Array($0)) })
            }
        }
        var covered = Set<String>()
        var all: [String] = []
        for (desk, user) in rows {
            if !all.contains(desk) { all.append(desk) }
            if let user, live.contains(user) { covered.insert(desk) }
        }
        return all.filter { !covered.contains($0) }
    }

    /// Throws unless the database (and so the access log) takes a write lock right now.
    public func checkWritable() async throws {
        try await database.transaction { db in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM vault_meta")
        }
    }
}
