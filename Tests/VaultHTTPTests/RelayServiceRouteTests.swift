import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VaultCore
import VaultCrypto
import VaultHTTP
import VaultTestSupport

/// The vault routes the relay service (`consultvault relay`) relies on: content marked gone, the outbox's `desk`
/// filter and `desk` field, `failed` as final with `delivery_detail`, and the reply length limit.
@Suite struct RelayServiceRouteTests {
    @Test("DELETE content: 204, repeatable, then no PUT; content_available false; 401, 403, 404, 400, 409 otherwise")
    func contentGone() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let other = try await f.vault.issueRelayToken(name: "relay-gyakutai", desks: ["gyakutai"], caller: .cli())
        try await makeApp(f).test(.router) { client in
            let (mid, cid) = try await ContentTests.imageMessage(client, f)
            let uri = "/v1/messages/\(mid)/content"
            #expect(try await client.call(.delete, uri).status == .unauthorized)
            #expect(try await client.call(.delete, uri, token: other).status == .forbidden)
            #expect(
                try await client.call(.delete, "/v1/messages/\(ID.v4())/content", token: f.relayToken).status
                    == .notFound)
            #expect(
                try await client.call(.delete, "/v1/messages/nope/content", token: f.relayToken).status == .badRequest)
            let text = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("hello"))
            let textID = try #require(text.json["message_id"] as? String)
            #expect(
                try await client.call(.delete, "/v1/messages/\(textID)/content", token: f.relayToken).status
                    == .conflict)
            #expect(try await client.call(.delete, uri, token: f.relayToken).status == .noContent)
            // A replayed DELETE (an answer lost on the way) is harmless.
            #expect(try await client.call(.delete, uri, token: f.relayToken).status == .noContent)
            let put = try await ContentTests.put(client, uri, token: f.relayToken, bytes: [1, 2, 3])
            #expect(put.status == .conflict)
            let token = try await unlockToken(client, f, "cou1")
            let read = try await client.call(.get, "/v1/cases/\(cid)/messages", token: token)
            let data = try #require((read.json["messages"] as? [[String: Any]])?.first?["data"] as? [String: Any])
            #expect(data["content_available"] as? Bool == false)
            #expect(
                try await client.call(.get, "/v1/cases/\(cid)/messages/\(mid)/content", token: token).status
                    == .notFound)
        }
        // Stored content cannot be marked gone.
        try await makeApp(f).test(.router) { client in
            let body = LINE.body([
                LINE.message(
                    "01HZZZIMAGE000000000000099", #"{"type":"image","id":"99","contentProvider":{"type":"line"}}"#)
            ])
            let r = try await LineWebhookTests.post(client, f, body, signature: try LINE.sign(body))
            let mid = try #require((r.json["content_pending"] as? [[String: Any]])?.first?["message_id"] as? String)
            #expect(
                try await ContentTests.put(client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1])
                    .status == .created)
            #expect(
                try await client.call(.delete, "/v1/messages/\(mid)/content", token: f.relayToken).status == .conflict)
        }
        let writes = try await f.vault.database.read { db in
            try String.fetchAll(
                db,
                sql: "SELECT outcome FROM access_log WHERE action = 'relay.write' AND target LIKE '% gone' ORDER BY seq"
            )
        }
        #expect(writes == ["denied", "allowed", "allowed"])
        let gone = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM content_gone")
        }
        #expect(gone == 1)
    }

    @Test("outbox: items carry desk; ?desk= filters (403 other desk, 404 unknown); same token re-offered at once")
    func outboxDesk() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let caseID = try await Self.reply(f, relayKey: relayKey, text: "返信です")
        let relay2 = try await f.vault.issueRelayToken(name: "relay2", desks: ["ijime"], caller: .cli())
        try await makeApp(f).test(.router) { client in
            #expect(
                try await client.call(.get, "/v1/relay/outbox?desk=gyakutai", token: f.relayToken).status == .forbidden)
            #expect(
                try await client.call(.get, "/v1/relay/outbox?desk=nosuchdesk", token: f.relayToken).status == .notFound
            )
            let leased = try await client.call(.get, "/v1/relay/outbox?desk=ijime&lease=60", token: f.relayToken)
            #expect(leased.status == .ok)
            let items = try #require(leased.json["items"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["desk"] as? String == "ijime")
            #expect(items.first?["case_id"] as? String == caseID.description)
            // A restarted relay (same token) gets the item again at once; another token waits for the lease.
            let again = try await client.call(.get, "/v1/relay/outbox?desk=ijime&lease=60", token: f.relayToken)
            #expect((again.json["items"] as? [[String: Any]])?.first?["id"] as? String == items.first?["id"] as? String)
            let other = try await client.call(.get, "/v1/relay/outbox?desk=ijime", token: relay2)
            #expect((other.json["items"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("failed is final: the item leaves the outbox; the transcript shows delivery failed and delivery_detail")
    func failedIsFinal() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let caseID = try await Self.reply(f, relayKey: relayKey, text: "返信です")
        try await makeApp(f).test(.router) { client in
            let leased = try await client.call(.get, "/v1/relay/outbox?desk=ijime", token: f.relayToken)
            let id = try #require((leased.json["items"] as? [[String: Any]])?.first?["id"] as? String)
            let ack = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken,
                json: ["status": "failed", "detail": "line:400"])
            #expect(ack.status == .noContent)
            let after = try await client.call(.get, "/v1/relay/outbox?desk=ijime", token: f.relayToken)
            #expect((after.json["items"] as? [Any])?.isEmpty == true)
            let replayed = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken, json: ["status": "delivered"])
            #expect(replayed.status == .conflict)
            let token = try await unlockToken(client, f, "cou1")
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            let messages = try #require(read.json["messages"] as? [[String: Any]])
            let reply = try #require(messages.first { $0["direction"] as? String == "outbound" })
            #expect(reply["delivery"] as? String == "failed")
            #expect(reply["delivery_detail"] as? String == "line:400")
            #expect(messages.first?["delivery_detail"] is NSNull)
        }
        let box = try await f.vault.database.read { db in try Data.fetchOne(db, sql: "SELECT box FROM outbox") }
        #expect(box?.isEmpty == true)
    }

    @Test("a reply is at most 5,000 characters (not bytes): 5,000 Japanese characters pass, 5,001 are 400")
    func replyLimit() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let caseID = try await Self.reply(f, relayKey: relayKey, text: "最初")
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "cou1")
            let ok = try await client.call(
                .post, "/v1/cases/\(caseID)/replies", token: token, json: ["text": String(repeating: "あ", count: 5000)])
            #expect(ok.status == .created)
            let long = try await client.call(
                .post, "/v1/cases/\(caseID)/replies", token: token, json: ["text": String(repeating: "あ", count: 5001)])
            #expect(long.status == .badRequest)
        }
    }

    /// A case of desk ijime assigned to cou1 with one queued reply; returns the case id.
    static func reply(_ f: Fixture, relayKey: BoxKeyPair, text: String) async throws -> ID {
        let sup = try await f.unlock("sup")
        let cou1 = try await f.unlock("cou1")
        let posted = try await f.vault.ingest(f.text("たすけて"), relay: f.relay, requestID: "in")
        try await f.vault.assign(caseID: posted.caseID, to: "cou1", as: cou1, requestID: "take")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k")
        _ = try await f.vault.queueReply(caseID: posted.caseID, text: text, as: cou1, requestID: "r")
        return posted.caseID
    }
}
