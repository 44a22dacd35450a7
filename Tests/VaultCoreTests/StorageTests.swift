import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct StorageTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cv-db-\(ID.v4()).sqlite").path
    }

    @Test("the writer connection runs WAL with synchronous=FULL, foreign keys and secure_delete")
    func pragmas() throws {
        let db = try VaultDatabase(path: Self.tempPath())
        #expect(try db.writerSynchronousMode() == 2)  // FULL, asked of the writer itself
        let (journal, fk, secure) = try db.writer.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                try Int.fetchOne(db, sql: "PRAGMA secure_delete")
            )
        }
        #expect(journal == "wal")
        #expect(fk == 1)
        #expect(secure == 1)
    }

    /// The migrated schema, one statement per entry, in a stable order.
    static func dumpSchema(_ db: VaultDatabase) throws -> String {
        let rows = try db.writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
                    AND name NOT LIKE 'grdb_%' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, name
                    """)
        }
        let header =
            "-- ConsultVault schema: golden snapshot of the migrated database (checked by StorageTests).\n"
            + "-- Regenerate with CONSULTVAULT_UPDATE_SCHEMA=1 swift test --filter StorageTests after adding a migration.\n\n"
        return header + rows.map { ($0["sql"] as String) + ";\n" }.joined(separator: "\n")
    }

    @Test("the migrated schema equals schema/schema.sql")
    func goldenSchema() throws {
        let db = try VaultDatabase(path: Self.tempPath())
        let actual = try Self.dumpSchema(db)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../schema/schema.sql")
        if ProcessInfo.processInfo.environment["CONSULTVAULT_UPDATE_SCHEMA"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == golden, "schema drifted from schema/schema.sql; add a migration and regenerate the snapshot")
    }

    @Test("the case list's unread count reads two counters, no message row and no message index")
    func unreadCountPlan() throws {
        let db = try VaultDatabase(path: Self.tempPath())
        let details = try db.writer.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN SELECT \(Vault.unreadSQL(reader: "x'00'")) FROM cases c"
            ).map { $0["detail"] as String }
        }
        // SCAN c, then one primary-key search of the reader's position per case (`r` is case_reads).
        #expect(details.contains { $0.hasPrefix("SEARCH r USING PRIMARY KEY") })
        #expect(details.filter { $0.hasPrefix("SCAN") || $0.hasPrefix("SEARCH") } == ["SCAN c", details.last!])
        #expect(!details.contains { $0.contains("messages") })
    }

    @Test("the access log refuses updates and deletes")
    func appendOnly() throws {
        let db = try VaultDatabase(path: Self.tempPath())
        _ = try db.transactionSync { db in
            try AuditLog.append(
                AuditEntry(time: 1, actor: "a", role: "r", action: "x", target: "t", outcome: .allowed, requestID: "q"),
                in: db)
        }
        #expect(throws: (any Error).self) {
            try db.transactionSync { db in try db.execute(sql: "UPDATE access_log SET actor = 'b'") }
        }
        #expect(throws: (any Error).self) {
            try db.transactionSync { db in try db.execute(sql: "DELETE FROM access_log") }
        }
        #expect(try db.writer.read { try AuditLog.firstBrokenSeq(in: $0) } == nil)
    }

    @Test("RFC 3339 parsing: offsets, milliseconds, and refusal of finer precision and nonsense")
    func timestamps() {
        #expect(Timestamp.parse("2026-11-22T09:00:00.123+09:00") == Timestamp.parse("2026-11-22T00:00:00.123Z"))
        #expect(Timestamp.parse("1970-01-01T00:00:01Z") == 1000)
        #expect(Timestamp.parse("2026-11-22T00:00:00.1234Z") == nil)
        #expect(Timestamp.parse("2026-11-22T00:00:00.1230Z") == Timestamp.parse("2026-11-22T00:00:00.123Z"))
        #expect(Timestamp.parse("2026-02-30T00:00:00Z") == nil)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.parse("2026-11-22 00:00:00Z") == nil)
        #expect(Timestamp.format(1_795_000_000_123) == "2026-11-18T11:06:40.123Z")
        #expect(Timestamp.parse(Timestamp.format(1_795_000_000_123)) == 1_795_000_000_123)
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(951_782_400_007) == "2000-02-29T00:00:00.007Z")
        #expect(Timestamp.format(253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999Z")
        // Formatting and parsing agree on every day of a span with leap years and century rules.
        for ms in stride(from: Int64(-86_400_000 * 800), to: 4_200_000_000_000, by: 86_400_000 * 37 + 3_600_007) {
            #expect(Timestamp.parse(Timestamp.format(ms)) == ms)
        }
    }

    @Test("UUIDv7 ids carry the version and the time")
    func uuidv7() throws {
        let id = ID.v7(milliseconds: 1_795_000_000_123)
        #expect(id.version == 7)
        let ms = id.bytes[0..<6].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        #expect(ms == 1_795_000_000_123)
        #expect(ID(id.description) == id)
    }
}
