import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct UnsendDeleteTests {
    @Test("an unsend under the delete policy removes a message with content and every child row; redelivery stays out")
    func unsendWithContent() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await RichCase.prepare(f)
        try await f.vault.setUnsendPolicy(desk: "ijime", policy: "delete", caller: .cli())
        let c = try await RichCase.make(f, tag: "taken", .keepOpen)
        let mid = Data(c.imageID.bytes)
        let image = RichCase.event(
            "message", id: "taken-ev-image", user: "U-taken",
            #","message":{"type":"image","id":"taken-image","contentProvider":{"type":"line"}}"#)
        struct Counts: Equatable {
            var message = 0, content = 0, chunks = 0, events = 0, eventLinks = 0, messages = 0, inbound = 0
        }
        @Sendable func counts() async throws -> Counts {
            try await f.vault.database.read { db in
                func n(_ sql: String, _ args: StatementArguments = []) throws -> Int {
                    try Int.fetchOne(db, sql: sql, arguments: args) ?? -1
                }
                return Counts(
                    message: try n("SELECT count(*) FROM messages WHERE id = ?", [mid]),
                    content: try n("SELECT count(*) FROM message_content WHERE message_id = ?", [mid]),
                    chunks: try n("SELECT count(*) FROM content_chunks WHERE message_id = ?", [mid]),
                    events: try n("SELECT count(*) FROM line_events"),
                    eventLinks: try n("SELECT count(*) FROM line_events WHERE message_id = ?", [mid]),
                    messages: try n("SELECT count(*) FROM messages"),
                    inbound: try n("SELECT inbound_count FROM cases WHERE id = ?", [Data(c.caseID.bytes)]))
            }
        }
        let before = try await counts()
        #expect(before.message == 1 && before.content == 1 && before.chunks == 2 && before.eventLinks == 1)
        let unsend = try await RichCase.webhook(
            f,
            [
                RichCase.event(
                    "unsend", id: "taken-ev-unsend", user: "U-taken", #","unsend":{"messageId":"taken-image"}"#)
            ]
        )
        #expect(unsend.accepted == 1)
        let after = try await counts()
        #expect(
            after
                == Counts(
                    message: 0, content: 0, chunks: 0, events: before.events + 1, eventLinks: 0,
                    messages: before.messages - 1, inbound: before.inbound - 1))
        // LINE redelivers the image event: a duplicate, with no content asked for.
        let again = try await RichCase.webhook(f, [image])
        #expect((again.accepted, again.duplicates, again.contentPending.isEmpty) == (0, 1, true))
        #expect(try await counts() == after)
        // The rest of the case still reads.
        let cou1 = try await f.unlock("cou1")
        let left = try await f.vault.transcript(caseID: c.caseID, afterSeq: 0, limit: 100, as: cou1, requestID: "r")
        #expect(left.count == (RichCase.rows["messages"] ?? 0) - 1)
        #expect(!left.contains { $0.id == c.imageID })
        let log = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000) }
        #expect(log.contains { $0.target == "message:\(c.imageID) unsend-deleted" })
    }
}
