import Foundation
import GRDB

extension Vault {
    /// Desks none of whose confirmed supervisors has a live session: the service stalls there (DESIGN.md).
    public func desksWithoutUnlockedSupervisor() async throws -> [String] {
        let live = sessions.liveUserIDs()
        let (all, supervisors) = try await database.read { db in
            let names = try String.fetchAll(db, sql: "SELECT name FROM desks ORDER BY name")
            let pairs = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.name, m.user_id FROM desks d JOIN desk_members m ON m.desk_id = d.id AND m.state = 'confirmed'
                    JOIN users u ON u.id = m.user_id AND u.role = 'supervisor' AND u.state = 'active'
                    """
            ).map { row -> (String, ID?) in (row["name"], ID(bytes: Array(row["user_id"] as Data))) }
            return (names, pairs)
        }
        let covered = Set(supervisors.compactMap { desk, user in user.map { live.contains($0) ? desk : nil } ?? nil })
        return all.filter { !covered.contains($0) }
    }

    /// Throws unless the vault can serve: the schema is the golden one, the database (and so the access log) takes a
    /// write lock right now, and `audit-checkpoints.log` can be appended to. After a failed write (disk full, I/O
    /// error) a probe write must commit before the vault counts as ready again.
    /// - Throws: `.integrity` for an altered schema, `.auditUnavailable` / `.storageUnavailable` otherwise.
    public func checkWritable() async throws {
        try await database.verifySchemaAsync()
        let probe = database.health.isFailing
        try await database.transaction { db in
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM vault_meta")
            if probe {
                try db.execute(
                    sql: "INSERT INTO vault_meta (key, value) VALUES ('write_probe', ?) "
                        + "ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [self.now()])
            }
        }
        try checkpointAppender.checkWritable()
    }
}
