import Foundation
import GRDB
import Testing
import VaultTestSupport

@testable import VaultCore

/// A page is opened in parallel chunks (which HTTP renders per chunk); these check that what comes back is complete, in
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
        let chunks = try await f.vault.transcriptPage(
            caseID: caseID, afterSeq: 0, limit: 1000, as: cou1, requestID: "r"
        ).chunks.map { $0.map(\.seq) }
        #expect(chunks.count > 1)
        #expect(chunks.flatMap { $0 } == Array(1...300))
        // Small chunks first and last (a second core starts at once, the cores finish together), full ones between.
        let sizes = chunks.map(\.count)
        #expect(sizes.first == 7)
        #expect(sizes.contains(31))
        #expect(sizes.suffix(8).allSatisfy { $0 <= 7 })
        let tail = try await f.vault.transcript(caseID: caseID, afterSeq: 250, limit: 1000, as: cou1, requestID: "r")
        #expect(tail.map(\.seq) == Array(251...300))
    }

    @Test("the chunk schedule: edge-sized chunks at the start and for the last four base chunks of the expected rows")
    func chunkSchedule() {
        let s = ChunkSchedule(base: 31, expected: 1000)
        #expect(s.edge == 7)
        #expect(s.size(handedOut: 0) == 7)
        #expect(s.size(handedOut: 7) == 31)
        #expect(s.size(handedOut: 875) == 31)
        #expect(s.size(handedOut: 876) == 7)
        #expect(s.size(handedOut: 2000) == 7)  // a hint that was too small only makes the chunks smaller
        #expect(ChunkSchedule(base: 16, expected: 0).size(handedOut: 5) == 4)
    }

    @Test("the word-at-a-time escape scan agrees with a byte-by-byte one at every length, position and byte")
    func escapeScan() {
        func reference(_ bytes: [UInt8]) -> Bool { bytes.contains { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 } }
        func scan(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { JSONString.needsEscaping($0) } }
        // Filler of bytes that need no escape, UTF-8 continuation bytes and the neighbours of each special byte.
        let filler: [UInt8] = Array("aあ😀 !#[]~".utf8) + [0x7F, 0x80, 0xA2, 0xDC, 0xFF]
        let probes: [UInt8] = [
            0x00, 0x01, 0x0A, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0xA2, 0xDC, 0xFF,
        ]
        var checked = 0
        for length in 0...40 {
            let base = (0..<length).map { filler[$0 % filler.count] }
            #expect(scan(base) == false)
            for position in 0..<length {
                for probe in probes {
                    var bytes = base
                    bytes[position] = probe
                    #expect(scan(bytes) == reference(bytes), "length \(length), byte \(probe) at \(position)")
                    checked += 1
                }
            }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0x1C...0xFF, using: &rng)
            }
            #expect(scan(bytes) == reference(bytes))
        }
        #expect(checked == 13_120)
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

    @Test("a page whose epoch key the reader cannot open fails with forbidden, and the read is recorded as an error")
    func missingKeyFailsAfterTheReadIsRecorded() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        var caseID: ID?
        for i in 0..<40 {
            caseID = try await f.vault.ingest(f.text("message \(i)"), relay: f.relay, requestID: "w").caseID
        }
        let id = try #require(caseID)
        // The queue's wraps of the case's epochs go (as if lost); the oversight wrap stays, so cou1 holds nothing.
        try await f.vault.database.writer.write { db in
            try db.execute(
                sql: """
                    DELETE FROM key_wraps WHERE key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)
                        AND recipient_key_id IN (SELECT key_id FROM desk_keys WHERE kind = 'queue')
                    """,
                arguments: [Data(id.bytes)])
        }
        let cou1 = try await f.unlock("cou1")
        let error = await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: id, afterSeq: 0, limit: 1000, as: cou1, requestID: "r-missing")
        }
        #expect(error?.code == .forbidden)
        let logged = try f.vault.database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT action, outcome FROM access_log WHERE request_id = 'r-missing'")
        }
        #expect(logged.count == 1)
        #expect(logged.first?["action"] == "transcript.read")
        #expect(logged.first?["outcome"] == "error")  // recorded, as an error: no page was served
        // Nothing was shown, so the reader's unread position did not move.
        let reader = Data(cou1.id.bytes)
        let position = try await f.vault.database.writer.read { db in
            try Int.fetchOne(
                db, sql: "SELECT last_seq FROM case_reads WHERE user_id = ? AND case_id = ?",
                arguments: [reader, Data(id.bytes)])
        }
        #expect(position == nil)
    }
}
