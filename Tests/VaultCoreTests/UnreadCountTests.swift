import Foundation
import GRDB
import Testing
import VaultTestSupport

@testable import VaultCore

/// The case list's unread figure comes from two counters (`cases.inbound_count`, `case_reads.read_inbound`); these
/// check it against its definition, the inbound rows after the reader's position, counted from the rows.
@Suite struct UnreadCountTests {
    /// Per case of the list: (counter figure, figure counted from the message rows).
    static func figures(_ f: Fixture, _ user: UnlockedUser) async throws -> [ID: (listed: Int, counted: Int)] {
        let listed = try await f.vault.listCases(CaseQuery(), as: user)
        let reader = Data(user.id.bytes)
        return try await f.vault.database.read { db in
            var out: [ID: (Int, Int)] = [:]
            for c in listed {
                let counted = try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM messages WHERE case_id = ? AND direction = 'inbound' AND seq >
                            coalesce((SELECT last_seq FROM case_reads WHERE case_id = ? AND user_id = ?), 0)
                        """,
                    arguments: [Data(c.id.bytes), Data(c.id.bytes), reader])
                out[c.id] = (c.unread, counted ?? -1)
            }
            return out
        }
    }

    static func expectConsistent(_ f: Fixture, _ user: UnlockedUser, _ caseID: ID, unread: Int) async throws {
        let figure = try #require(try await figures(f, user)[caseID])
        #expect(figure.listed == figure.counted)
        #expect(figure.listed == unread)
    }

    @Test("unread follows inbound rows and the reader's position: pages, re-reads, skipping ahead, notes")
    func followsPosition() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let cou1 = try await f.unlock("cou1")
        var caseID: ID?
        for i in 1...10 { caseID = try await f.vault.ingest(f.text("m\(i)"), relay: f.relay, requestID: "w").caseID }
        let id = try #require(caseID)
        try await Self.expectConsistent(f, cou1, id, unread: 10)
        // A page of four, then the same page again (no move), then a page that starts at the position.
        _ = try await f.vault.transcript(caseID: id, afterSeq: 0, limit: 4, as: cou1, requestID: "r")
        try await Self.expectConsistent(f, cou1, id, unread: 6)
        _ = try await f.vault.transcript(caseID: id, afterSeq: 0, limit: 2, as: cou1, requestID: "r")
        try await Self.expectConsistent(f, cou1, id, unread: 6)
        // Notes (not inbound) between inbound messages: counted as neither unread nor read.
        try await f.vault.assign(caseID: id, to: "cou1", as: cou1, requestID: "take")
        _ = try await f.vault.addNote(id, text: "note a", as: cou1, requestID: "n")
        _ = try await f.vault.ingest(f.text("m11"), relay: f.relay, requestID: "w")
        _ = try await f.vault.addNote(id, text: "note b", as: cou1, requestID: "n")
        try await Self.expectConsistent(f, cou1, id, unread: 7)
        // Skipping ahead: a page that starts after seq 8 leaves 5–8 behind as read (the position is the page's end).
        _ = try await f.vault.transcript(caseID: id, afterSeq: 8, limit: 2, as: cou1, requestID: "r")
        try await Self.expectConsistent(f, cou1, id, unread: 1)
        // A page that overlaps the position only counts what is past it.
        _ = try await f.vault.transcript(caseID: id, afterSeq: 7, limit: 1000, as: cou1, requestID: "r")
        try await Self.expectConsistent(f, cou1, id, unread: 0)
        _ = try await f.vault.ingest(f.text("m12"), relay: f.relay, requestID: "w")
        try await Self.expectConsistent(f, cou1, id, unread: 1)
        // Another reader has their own position.
        let sup = try await f.unlock("sup")
        let supFigures = try await Self.figures(f, sup)
        if let s = supFigures[id] { #expect(s.listed == s.counted) }
    }

    static func counters(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT hex(id) || ' ' || inbound_count FROM cases ORDER BY id")
            + String.fetchAll(
                db,
                sql: """
                    SELECT hex(user_id) || ' ' || hex(case_id) || ' ' || last_seq || ' ' || read_inbound FROM case_reads
                    ORDER BY user_id, case_id
                    """)
    }

    @Test("the v6 backfill computes the counters the writes keep")
    func backfillAgrees() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let cou1 = try await f.unlock("cou1")
        var ids: [ID] = []
        for i in 0..<12 {
            let user = "U\(String(repeating: "0", count: 31))\(i % 3)"
            ids.append(try await f.vault.ingest(f.text("m\(i)", user: user), relay: f.relay, requestID: "w").caseID)
        }
        for (n, id) in Set(ids).sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }).enumerated() {
            _ = try await f.vault.transcript(caseID: id, afterSeq: 0, limit: n + 1, as: cou1, requestID: "r")
        }
        let kept = try await f.vault.database.read { db in try Self.counters(db) }
        #expect(kept.count > 3)
        let recomputed = try await f.vault.database.transaction { db in
            try db.execute(sql: "UPDATE cases SET inbound_count = -1")
            try db.execute(sql: "UPDATE case_reads SET read_inbound = -1")
            for statement in VaultDatabase.unreadCounterBackfill { try db.execute(sql: statement) }
            return try Self.counters(db)
        }
        #expect(recomputed == kept)
    }
}
