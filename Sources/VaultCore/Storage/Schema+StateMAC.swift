import Foundation
import GRDB

extension VaultDatabase {
    /// v7: a `state_mac` on every row whose values decide who is sealed a key or allowed an action (StateMAC,
    /// schema/FORMAT.md §18), filled for existing rows with the vault's key; and desk manifests append-only.
    /// A database with rows needs the key (`stateMAC`); an empty one (a new vault) does not.
    static func stateMACSchema(_ db: Database, stateMAC: StateMAC?) throws {
        for table in ["cases", "case_grants", "desks", "access_requests", "audit_reviews", "relay_tokens"] {
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
                        + (SELECT count(*) FROM audit_reviews) + (SELECT count(*) FROM relay_tokens)
                    """) ?? 0
        guard rows > 0 else { return }
        guard let mac = stateMAC else {
            throw VaultError.integrity("the v7 migration needs the vault's keys to authenticate existing rows")
        }
        try backfillStateMACs(db, mac)
    }

    /// v8: a `state_mac` on user accounts (identity, role, state, enrollment code), filled for existing rows.
    static func userMACSchema(_ db: Database, stateMAC: StateMAC?) throws {
        try db.execute(sql: "ALTER TABLE users ADD COLUMN state_mac BLOB")
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM users")
        guard !rows.isEmpty else { return }
        guard let mac = stateMAC else {
            throw VaultError.integrity("the v8 migration needs the vault's keys to authenticate existing rows")
        }
        for row in rows {
            try db.execute(
                sql: "UPDATE users SET state_mac = ? WHERE id = ?",
                arguments: [Data(mac.tag(.user, Vault.userFields(row))), row["id"] as Data])
        }
    }

    /// Computes the MAC of every existing row once, when the migration runs (it never runs again: a second run
    /// would fail on the existing columns, and the schema check refuses a database whose schema differs).
    private static func backfillStateMACs(_ db: Database, _ mac: StateMAC) throws {
        let tables: [(table: String, key: String, record: StateMAC.Record, fields: (Row) throws -> [[UInt8]])] = [
            ("cases", "id", .caseState, { try CaseRow(row: $0).macFields }),
            ("case_grants", "id", .grant, { Vault.grantFields($0) }),
            ("desks", "id", .desk, Vault.deskFields),
            ("access_requests", "id", .accessRequest, Vault.accessRequestFields),
            ("audit_reviews", "breakglass_seq", .review, Vault.reviewFields),
            ("relay_tokens", "id", .relayToken, { try Vault.relayTokenFields(db, $0) }),
        ]
        for t in tables {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \(t.table)") {
                try db.execute(
                    sql: "UPDATE \(t.table) SET state_mac = ? WHERE \(t.key) = ?",
                    arguments: [Data(mac.tag(t.record, try t.fields(row))), row[t.key] as DatabaseValue])
            }
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
