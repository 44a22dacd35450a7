import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct PurgeTests {
    /// Every row of every table as text (`quote()` of each column), sorted, by table.
    static func snapshot(_ vault: Vault) async throws -> [String: [String]] {
        try await vault.database.read { db in
            var out: [String: [String]] = [:]
            for table in try tables(db) {
                out[table] = try String.fetchAll(db, sql: "SELECT \(try rowText(db, table)) FROM \(table)").sorted()
            }
            return out
        }
    }

    static func tables(_ db: Database) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    }

    static func columns(_ db: Database, _ table: String) throws -> [String] {
        try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
    }

    /// An SQL expression giving a row as text; `nulled` columns read as NULL.
    static func rowText(_ db: Database, _ table: String, nulled: Set<String> = []) throws -> String {
        try columns(db, table).map { nulled.contains($0) ? "'NULL'" : "quote(\"\($0)\")" }
            .joined(separator: " || '|' || ")
    }

    static func blobList(_ ids: [ID]) -> String {
        ids.map { "X'\($0.bytes.map { String(format: "%02x", $0) }.joined())'" }.joined(separator: ", ")
    }

    /// The rows that belong to `cases`, read from schema.sql by hand: a row belongs to a case when it names the
    /// case, one of the case's messages or one of its epoch keys. `line_events` rows stay, with `message_id` NULL
    /// (returned as they should read afterwards, under `line_events`).
    static func owned(_ f: Fixture, cases: [ID]) async throws -> (
        removed: [String: [String]], nulledEvents: [String]
    ) {
        let p = blobList(cases)
        let m = "SELECT id FROM messages WHERE case_id IN (\(p))"
        let k = "SELECT key_id FROM case_epochs WHERE case_id IN (\(p))"
        let predicates = [
            "messages": "case_id IN (\(p))",
            "message_content": "message_id IN (\(m))",
            "content_chunks": "message_id IN (\(m))",
            "content_gone": "message_id IN (\(m))",
            "outbox": "case_id IN (\(p)) OR message_id IN (\(m))",
            "case_reads": "case_id IN (\(p))",
            "case_grants": "case_id IN (\(p))",
            "access_requests": "case_id IN (\(p))",
            "disclosures": "case_id IN (\(p))",
            "case_epochs": "case_id IN (\(p))",
            "sender_sessions": "case_id IN (\(p))",
            // Issue 17's per-case rows.
            "case_records": "case_id IN (\(p))", "case_record_codes": "case_id IN (\(p))",
            "case_reopens": "case_id IN (\(p))", "case_keyword_flags": "case_id IN (\(p))",
            "auto_replies_sent": "case_id IN (\(p))", "auto_busy_pending": "case_id IN (\(p))",
            "cases": "id IN (\(p))",
            "key_wraps": "key_id IN (\(k)) OR recipient_key_id IN (\(k))",
        ]
        let (removed, nulled, uncovered) = try await f.vault.database.read { db in
            var removed: [String: [String]] = [:]
            var uncovered: [String] = []
            for table in try tables(db) {
                let cols = Set(try columns(db, table))
                if let predicate = predicates[table] {
                    removed[table] = try String.fetchAll(
                        db, sql: "SELECT \(try rowText(db, table)) FROM \(table) WHERE \(predicate)")
                } else if table != "line_events", cols.contains("case_id") || cols.contains("message_id") {
                    uncovered.append(table)
                }
            }
            let nulled = try String.fetchAll(
                db,
                sql: """
                    SELECT \(try rowText(db, "line_events", nulled: ["message_id"])) FROM line_events
                    WHERE message_id IN (\(m))
                    """)
            return (removed, nulled, uncovered)
        }
        // A table that can refer to a case or a message must be covered above.
        #expect(uncovered.isEmpty, "tables that refer to cases or messages but are not covered")
        return (removed, nulled)
    }

    /// Every message id of `cases`.
    static func messageIDs(_ f: Fixture, cases: [ID]) async throws -> [ID] {
        try await f.vault.database.read { db in
            try Data.fetchAll(db, sql: "SELECT id FROM messages WHERE case_id IN (\(blobList(cases)))")
                .compactMap { ID(bytes: Array($0)) }
        }
    }

    static func log(_ f: Fixture) async throws -> [AuditEntry] {
        try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 100_000) }
    }

    @Test(
        "purge shreds closed cases with replies, attachments, LINE events, grants and reads, and nothing else")
    func purgeEverything() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await RichCase.prepare(f)
        let gone = try await RichCase.make(f, tag: "gone", .close)
        let held = try await RichCase.make(f, tag: "held", .closeHeld)
        let open = try await RichCase.make(f, tag: "open", .keepOpen)
        clock.advance(seconds: 366 * 86_400)
        let before = try await Self.snapshot(f.vault)
        let (removed, nulledEvents) = try await Self.owned(f, cases: [gone.caseID])
        let goneMessages = try await Self.messageIDs(f, cases: [gone.caseID])
        // The case really has a row in every child table (so the expectation is not vacuous).
        for (table, count) in RichCase.rows where table != "line_events" {
            #expect(removed[table]?.count == count, "\(table)")
        }
        #expect(nulledEvents.count == RichCase.rows["line_events"])
        #expect(removed["cases"]?.count == 1)
        #expect(removed["case_epochs"]?.isEmpty == false)
        #expect(removed["key_wraps"]?.isEmpty == false)
        #expect(removed["sender_sessions"]?.isEmpty == false)
        let report = try await f.vault.purge(dryRun: false, caller: .cli())
        #expect(report.cases == [gone.caseID])
        #expect(report.held == 1)
        #expect(report.messages == RichCase.rows["messages"])
        #expect(report.wraps == removed["key_wraps"]?.count)
        let after = try await Self.snapshot(f.vault)
        for (table, rows) in before {
            switch table {
            case "access_log", "audit_notes":  // append-only: everything stays, the purge adds
                #expect(Set(rows).isSubset(of: Set(after[table] ?? [])), "\(table)")
            case "line_events":
                let kept = rows.filter { row in !nulledEvents.contains { Self.sameEvent(row, $0) } }
                #expect(after[table] == (kept + nulledEvents).sorted(), "\(table)")
            default:
                let gone = Set(removed[table] ?? [])
                #expect(after[table] == rows.filter { !gone.contains($0) }, "\(table)")
            }
        }
        // No surviving row names the purged case or one of its messages, in any column.
        let stray = try await f.vault.database.read { db in
            var stray: [String] = []
            let ids = Self.blobList([gone.caseID] + goneMessages)
            for table in try Self.tables(db) where table != "access_log" && table != "audit_notes" {
                for column in try Self.columns(db, table) {
                    let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE \"\(column)\" IN (\(ids))")
                    if n != 0 { stray.append("\(table).\(column)") }
                }
            }
            return stray
        }
        #expect(stray.isEmpty)
        let log = try await Self.log(f)
        #expect(log.contains { $0.action == "purge" && $0.target == "case:\(gone.caseID)" && $0.outcome == .allowed })
        #expect(log.last?.action == "purge")
        #expect(log.last?.target.hasPrefix("cases:1 messages:\(RichCase.rows["messages"]!) ") == true)
        let notes = try String(contentsOf: f.vault.checkpointFile.url, encoding: .utf8)
        #expect(notes.contains("purge case:\(gone.caseID)"))
        #expect(!notes.contains("case:\(held.caseID)") && !notes.contains("case:\(open.caseID)"))
        // The held and the open case still read (by their assignee).
        let cou1 = try await f.unlock("cou1")
        for c in [held, open] {
            let messages = try await f.vault.transcript(
                caseID: c.caseID, afterSeq: 0, limit: 100, as: cou1, requestID: "after")
            #expect(messages.count == RichCase.rows["messages"])
        }
        // A redelivered event of the purged case is still a duplicate, not a new case.
        let again = try await RichCase.webhook(
            f,
            [
                RichCase.event(
                    "message", id: "gone-ev-text", user: "U-gone",
                    #","message":{"type":"text","id":"gone-text","text":"CANARY-gone たすけて"}"#)
            ])
        #expect((again.accepted, again.duplicates) == (0, 1))
    }

    /// Whether two `line_events` row texts are the same event (same desk and webhook event id).
    static func sameEvent(_ a: String, _ b: String) -> Bool {
        a.split(separator: "|").prefix(2) == b.split(separator: "|").prefix(2)
    }

    @Test("a case that fails to delete is rolled back alone, recorded as an error, and blocks no other case")
    func failingCase() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await RichCase.prepare(f)
        let stuck = try await RichCase.make(f, tag: "stuck", .close)  // closed first: tried first
        clock.advance(seconds: 60)
        let free = try await RichCase.make(f, tag: "free", .close)
        clock.advance(seconds: 366 * 86_400)
        try await f.vault.database.transaction { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER inject_purge_failure BEFORE DELETE ON cases WHEN old.id = \(Self.blobList([stuck.caseID]))
                    BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                    """)
        }
        let stuckBefore = try await Self.owned(f, cases: [stuck.caseID])
        let report = try await f.vault.purge(dryRun: false, caller: .cli())
        #expect(report.cases == [free.caseID])
        let stuckAfter = try await Self.owned(f, cases: [stuck.caseID])
        #expect(stuckAfter.removed == stuckBefore.removed)
        #expect(stuckAfter.nulledEvents == stuckBefore.nulledEvents)
        #expect(stuckAfter.removed["messages"]?.count == RichCase.rows["messages"])
        let freeLeft = try await Self.owned(f, cases: [free.caseID])
        #expect(freeLeft.removed.values.allSatisfy(\.isEmpty) && freeLeft.nulledEvents.isEmpty)
        let log = try await Self.log(f)
        let purges = log.filter { $0.action == "purge" }
        #expect(purges.contains { $0.target == "case:\(stuck.caseID)" && $0.outcome == .error })
        #expect(!purges.contains { $0.target == "case:\(stuck.caseID)" && $0.outcome == .allowed })
        #expect(purges.contains { $0.target == "case:\(free.caseID)" && $0.outcome == .allowed })
        #expect(purges.last?.target.hasPrefix("cases:1 ") == true)
        #expect(purges.last?.outcome == .error)
        let notes = try String(contentsOf: f.vault.checkpointFile.url, encoding: .utf8)
        #expect(notes.contains("case:\(free.caseID)") && !notes.contains("case:\(stuck.caseID)"))
        // Once the cause is gone, the next run takes it.
        try await f.vault.database.transaction { db in try db.execute(sql: "DROP TRIGGER inject_purge_failure") }
        #expect(try await f.vault.purge(dryRun: false, caller: .cli()).cases == [stuck.caseID])
    }

    @Test("a restore re-applies the purge of a case with replies, attachments and LINE events")
    func restoreReapplies() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await RichCase.prepare(f)
        let gone = try await RichCase.make(f, tag: "gone", .close)
        _ = try await RichCase.make(f, tag: "kept", .keepOpen)
        let temp = FileManager.default.temporaryDirectory
        let backup = temp.appendingPathComponent("cv-purge-backup-\(ID.v4())")
        let target = temp.appendingPathComponent("cv-purge-restored-\(ID.v4())")
        defer {
            try? FileManager.default.removeItem(at: backup)
            try? FileManager.default.removeItem(at: target)
        }
        _ = try await f.vault.backup(to: backup, caller: .cli())
        clock.advance(seconds: 366 * 86_400)
        #expect(try await f.vault.purge(dryRun: false, caller: .cli()).cases == [gone.caseID])
        let summary = try await Vault.restore(
            from: backup, keys: Vault.keysDirectory(f.directory), to: target, checkpoints: f.vault.checkpointFile.url,
            caller: .cli())
        #expect(summary.reappliedPurges == [gone.caseID])
        // The restored vault holds what the live one holds after its purge: the kept case's rows, and no row of
        // the purged case in any table that refers to cases or messages.
        let restored = try await Self.snapshot(try Vault.open(at: target))
        let live = try await Self.snapshot(f.vault)
        for table in [
            "cases", "messages", "message_content", "content_chunks", "outbox", "line_events", "case_reads",
            "case_grants", "access_requests", "case_epochs", "key_wraps",
        ] {
            #expect(restored[table] == live[table], "\(table)")
        }
        #expect(live["messages"]?.count == RichCase.rows["messages"])
        #expect(live["line_events"]?.count == 2 * (RichCase.rows["line_events"] ?? 0))
    }
}
