import Foundation
import GRDB
import Testing
import VaultTestSupport

@testable import VaultCore

/// A page is opened in parallel chunks and rendered per chunk; these check that what comes back is complete, in
/// order, and fails whole when any row was altered.
@Suite struct TranscriptPageTests {
    static let texts: [String] = (0..<300).map { i in
        switch i % 5 {
        case 0: "plain \(i)"
        case 1: "quote \" and backslash \\ \(i)"
        case 2: "line\nbreak\ttab \(i)"
        case 3: "いじめの相談です 😢 \(i)"
        default: String(repeating: "x", count: 500) + " \(i)"
        }
    }

    static func ingestAll(_ f: Fixture) async throws -> ID {
        var caseID: ID?
        for text in texts {
            caseID = try await f.vault.ingest(f.text(text), relay: f.relay, requestID: "w").caseID
        }
        return try #require(caseID)
    }

    @Test("a 300-message page (several parallel chunks) comes back complete and in seq order, escapes intact")
    func orderAndContent() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await Self.ingestAll(f)
        let cou1 = try await f.unlock("cou1")
        let page = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 1000, as: cou1, requestID: "r")
        #expect(page.map(\.text) == Self.texts)
        #expect(page.map(\.seq) == Array(1...300))
        let chunks = try await f.vault.transcript(
            caseID: caseID, afterSeq: 0, limit: 1000, as: cou1, requestID: "r", render: { $0.map(\.seq) })
        #expect(chunks.count > 1)
        #expect(chunks.flatMap { $0 } == Array(1...300))
        let tail = try await f.vault.transcript(caseID: caseID, afterSeq: 250, limit: 1000, as: cou1, requestID: "r")
        #expect(tail.map(\.seq) == Array(251...300))
    }

    @Test("one altered body in the middle of a page fails the whole page with an integrity error")
    func alteredRowFailsPage() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await Self.ingestAll(f)
        try await f.vault.database.writer.write { db in
            var body = try #require(try Data.fetchOne(db, sql: "SELECT body FROM messages WHERE seq = 170"))
            body[body.startIndex + 30] ^= 0x01
            try db.execute(sql: "UPDATE messages SET body = ? WHERE seq = 170", arguments: [body])
        }
        let cou1 = try await f.unlock("cou1")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 1000, as: cou1, requestID: "r")
        }
        let before = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 169, as: cou1, requestID: "r")
        #expect(before.count == 169)
    }
}
