import Foundation
import GRDB

extension VaultDatabase {
    /// v7: a `state_mac` on every row whose values decide who is sealed a key or allowed an action (StateMAC,
    /// schema/FORMAT.md §18), filled for existing rows with the vault's key; and desk manifests append-only.
    /// A database with rows needs the key (`stateMAC`); an empty one (a new vault) does not.
    static func stateMACSchema(_ db: Database, stateMAC: StateMAC?) throws {
        for table in ["cases", "case_grants", "desks", "access_requests", "audit_reviews"] {
            try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN state_mac BLOB")
        }
        // Who vouched for the desk's recovery key (NULL: nobody yet; desk secrets are not sealed to it). Desks made
        // before v7 were sealed to their recovery key at creation: 'legacy'.
        try db.execute(sql: "ALTER TABLE desks ADD COLUMN recovery_vouched_by TEXT")
        try db.execute(sql: "UPDATE desks SET recovery_vouched_by = 'legacy'")
        try db.execute(
            sql: """
                CREATE TRIGGER desk_manifests_append_only_delete BEFORE DELETE ON desk_manifests
                BEGIN SELECT RAISE(ABORT, 'desk_manifests is append-only'); END
                """)
        try db.execute(
            sql: """
                CREATE TRIGGER desk_manifests_append_only_update BEFORE UPDATE ON desk_manifests
                BEGIN SELECT RAISE(ABORT, 'desk_manifests is append-only'); END
                """)
        let rows =
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM case_grants)
                        + (SELECT count(*) FROM desks) + (SELECT count(*) FROM access_requests)
                        + (SELECT count(*) FROM audit_reviews)
                    """) ?? 0
        guard rows > 0 else { return }
        guard let mac = stateMAC else {
            throw VaultError.integrity("the v7 migration needs the vault's keys to authenticate existing rows")
        }
        try backfillStateMACs(db, mac)
    }

    /// Computes the MAC of every existing row once, when the migration runs (it never runs again: a second run
    /// would fail on the existing columns, and the schema check refuses a database whose schema differs).
    private static func backfillStateMACs(_ db: Database, _ mac: StateMAC) throws {
        for row in try Row.fetchAll(db, sql: "SELECT \(CaseRow.selection) FROM cases") {
            let c = try CaseRow(selected: row)
            try db.execute(
                sql: "UPDATE cases SET state_mac = ? WHERE id = ?",
                arguments: [Data(mac.tag(.caseState, c.macFields)), Data(c.id.bytes)])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM case_grants") {
            try db.execute(
                sql: "UPDATE case_grants SET state_mac = ? WHERE id = ?",
                arguments: [Data(mac.tag(.grant, Vault.grantFields(row))), row["id"] as Data])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM desks") {
            try db.execute(
                sql: "UPDATE desks SET state_mac = ? WHERE id = ?",
                arguments: [Data(mac.tag(.desk, Vault.deskFields(row))), row["id"] as Data])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM access_requests") {
            try db.execute(
                sql: "UPDATE access_requests SET state_mac = ? WHERE id = ?",
                arguments: [Data(mac.tag(.accessRequest, Vault.accessRequestFields(row))), row["id"] as Data])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_reviews") {
            try db.execute(
                sql: "UPDATE audit_reviews SET state_mac = ? WHERE breakglass_seq = ?",
                arguments: [Data(mac.tag(.review, Vault.reviewFields(row))), row["breakglass_seq"] as Int64])
        }
    }

    /// Reads `vault_meta` without migrating (the keys it names are needed before migrations that use them).
    static func readMeta(path: String) throws -> [String: DatabaseValue] {
        var config = Configuration()
        config.readonly = true
        config.publicStatementArguments = false
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                try Dictionary(
                    uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM vault_meta").map {
                        ($0["key"] as String, $0["value"] as DatabaseValue)
                    })
            }
        } catch {
            throw VaultError(.storageUnavailable, "cannot read the vault database at \(path): \(describe(error))")
        }
    }
}
