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

@Suite struct ContentTests {
    /// Posts one image message through the webhook; returns its message id and case id.
    static func imageMessage(_ client: some TestClientProtocol, _ f: Fixture) async throws -> (String, String) {
        try await LineWebhookTests.setSecret(f)
        let body = LINE.body([LINE.all[1]])
        let r = try await LineWebhookTests.post(client, f, body, signature: try LINE.sign(body))
        let mid = try #require((r.json["content_pending"] as? [[String: Any]])?.first?["message_id"] as? String)
        let cid = try await f.vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT case_id FROM messages")
        }
        return (mid, try #require(cid.flatMap { ID(bytes: Array($0)) }).description)
    }

    static func put(
        _ client: some TestClientProtocol, _ uri: String, token: String?, bytes: [UInt8],
        contentType: String = "image/jpeg"
    ) async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: contentType]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .put, headers: headers, body: ByteBuffer(bytes: bytes)) {
            APIResponse(status: $0.status, headers: $0.headers, body: Data(buffer: $0.body))
        }
    }

    @Test("a 20 MiB upload round-trips byte-identical, in 64 KiB secretstream chunks; a second PUT is refused")
    func roundTrip20MiB() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let bytes = SecureRandom.bytes(20 * 1024 * 1024)
        try await makeApp(f).test(.router) { client in
            let (mid, cid) = try await Self.imageMessage(client, f)
            let put = try await Self.put(client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: bytes)
            #expect(put.status == .created)
            let again = try await Self.put(
                client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1, 2, 3])
            #expect(again.status == .conflict)
            let token = try await unlockToken(client, f, "cou1")
            let got = try await client.call(.get, "/v1/cases/\(cid)/messages/\(mid)/content", token: token)
            #expect(got.status == .ok)
            #expect(got.headers[.contentType] == "image/jpeg")
            #expect(got.body.count == bytes.count)
            #expect(got.body == Data(bytes))
            let read = try await client.call(.get, "/v1/cases/\(cid)/messages", token: token)
            let data = try #require((read.json["messages"] as? [[String: Any]])?.first?["data"] as? [String: Any])
            #expect(data["content_available"] as? Bool == true)
            #expect(data["size"] as? Int == bytes.count)
            #expect(data["content_type"] as? String == "image/jpeg")
            // Another desk's counselor is refused and the denial recorded.
            let other = try await unlockToken(client, f, "cou2")
            let denied = try await client.call(.get, "/v1/cases/\(cid)/messages/\(mid)/content", token: other)
            #expect(denied.status == .forbidden)
        }
        let (chunks, sealed, reads, writes) = try await f.vault.database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM content_chunks") ?? 0,
                try Data.fetchAll(db, sql: "SELECT data FROM content_chunks ORDER BY idx LIMIT 2"),
                try String.fetchAll(
                    db, sql: "SELECT outcome FROM access_log WHERE action = 'content.read' ORDER BY seq"),
                try Int.fetchOne(
                    db,
                    sql:
                        "SELECT count(*) FROM access_log WHERE action = 'relay.write' AND target LIKE 'content:%' AND length(envelope_hash) = 32"
                ) ?? 0
            )
        }
        #expect(chunks == 20 * 16)  // 320 chunks of 64 KiB, the last one tagged FINAL
        #expect(sealed.first?.count == 64 * 1024 + SecretStream.overhead)
        #expect(sealed.first.map { Data(bytes[0..<1024]).range(of: Data(Array($0.prefix(1024)))) == nil } == true)
        #expect(reads == ["allowed", "denied"])
        #expect(writes == 1)
    }

    @Test("bad uploads: too big (413), not media, unknown, unauthenticated, foreign desk, wrong type; nothing kept")
    func badUploads() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        var config = ServeConfiguration()
        config.maxContentBytes = 1024 * 1024
        let other = try await f.vault.issueRelayToken(name: "relay-gyakutai", desks: ["gyakutai"], caller: .cli())
        try await makeApp(f, configuration: config).test(.router) { client in
            let (mid, _) = try await Self.imageMessage(client, f)
            let big = try await Self.put(
                client, "/v1/messages/\(mid)/content", token: f.relayToken,
                bytes: [UInt8](repeating: 7, count: 1024 * 1024 + 1))
            #expect(big.status == .contentTooLarge)
            #expect(big.errorCode == "payload_too_large")
            let text = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("hello"))
            let textID = try #require(text.json["message_id"] as? String)
            #expect(
                try await Self.put(client, "/v1/messages/\(textID)/content", token: f.relayToken, bytes: [1]).status
                    == .conflict)
            #expect(
                try await Self.put(client, "/v1/messages/\(ID.v4())/content", token: f.relayToken, bytes: [1]).status
                    == .notFound)
            #expect(
                try await Self.put(client, "/v1/messages/not-a-uuid/content", token: f.relayToken, bytes: [1]).status
                    == .badRequest)
            #expect(
                try await Self.put(client, "/v1/messages/\(mid)/content", token: nil, bytes: [1]).status
                    == .unauthorized)
            #expect(
                try await Self.put(client, "/v1/messages/\(mid)/content", token: other, bytes: [1]).status == .forbidden
            )
            #expect(
                try await Self.put(
                    client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1], contentType: ""
                )
                .status == .unsupportedMediaType)
            // After all that the upload can still happen once.
            #expect(
                try await Self.put(client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [9, 9]).status
                    == .created)
        }
        let rows = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM message_content") ?? -1
        }
        #expect(rows == 1)
    }
}

@Suite struct OutboxTests {
    @Test("replies are sealed to the relay key, leased to one relay at a time, acknowledged, shown as delivered")
    func outboxFlow() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let sup = try await f.unlock("sup")
        let cou1 = try await f.unlock("cou1")
        let posted = try await f.vault.ingest(f.text("たすけて"), relay: f.relay, requestID: "in")
        try await f.vault.assign(caseID: posted.caseID, to: "cou1", as: cou1, requestID: "take")
        // Another counselor of the desk does not reply on cou1's case.
        let cou4 = try await f.unlock("cou4")
        await #expect(throws: VaultError.self) {
            try await f.vault.queueReply(caseID: posted.caseID, text: "x", as: cou4, requestID: "r-1")
        }
        // No relay key yet: 409.
        await #expect(throws: VaultError.self) {
            try await f.vault.queueReply(caseID: posted.caseID, text: "x", as: cou1, requestID: "r0")
        }
        // Only a supervisor of the desk registers it.
        await #expect(throws: VaultError.self) {
            try await f.vault.setRelayKey(
                desk: "ijime", publicKey: relayKey.publicKey, supervisor: cou1, requestID: "k0")
        }
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k1")
        let replyID = try await f.vault.queueReply(
            caseID: posted.caseID, text: "相談してくれてありがとう。", as: cou1, requestID: "r1")
        let relay2 = try await f.vault.issueRelayToken(name: "relay2", desks: ["ijime"], caller: .cli())
        try await makeApp(f).test(.router) { client in
            let leased = try await client.call(.get, "/v1/relay/outbox?lease=30", token: f.relayToken)
            #expect(leased.status == .ok)
            let items = try #require(leased.json["items"] as? [[String: Any]])
            #expect(items.count == 1)
            let item = try #require(items.first)
            #expect(item["case_id"] as? String == posted.caseID.description)
            let box = try #require((item["box"] as? String).flatMap { Data(base64Encoded: $0) })
            let opened = try SealedBox.open(Array(box), with: relayKey).withUnsafeBytes { Data($0) }
            let inner = try #require(try JSONSerialization.jsonObject(with: opened) as? [String: String])
            #expect(inner["to"] == "U0123456789abcdef0123456789abcdef")
            #expect(inner["text"] == "相談してくれてありがとう。")
            #expect(inner["retry_key"].flatMap { UUID(uuidString: $0) } != nil)
            let id = try #require(item["id"] as? String)
            // A second relay sees nothing while the lease holds, and cannot ack.
            let second = try await client.call(.get, "/v1/relay/outbox", token: relay2)
            #expect((second.json["items"] as? [Any])?.isEmpty == true)
            let wrongAck = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: relay2, json: ["status": "delivered", "detail": "line:200"])
            #expect(wrongAck.status == .conflict)
            let badAck = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken, json: ["status": "sent"])
            #expect(badAck.status == .badRequest)
            #expect(
                try await client.call(.get, "/v1/relay/outbox?lease=601", token: f.relayToken).status == .badRequest)
            #expect(try await client.call(.get, "/v1/relay/outbox").status == .unauthorized)
            let ack = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken,
                json: ["status": "delivered", "detail": "line:200"])
            #expect(ack.status == .noContent)
            let afterAck = try await client.call(.get, "/v1/relay/outbox", token: f.relayToken)
            #expect((afterAck.json["items"] as? [Any])?.isEmpty == true)
            let token = try await unlockToken(client, f, "cou1")
            let read = try await client.call(.get, "/v1/cases/\(posted.caseID)/messages", token: token)
            let messages = try #require(read.json["messages"] as? [[String: Any]])
            let reply = try #require(messages.first { $0["id"] as? String == replyID.description })
            #expect(reply["direction"] as? String == "outbound")
            #expect(reply["author"] as? String == "cou1")
            #expect(reply["text"] as? String == "相談してくれてありがとう。")
            #expect(reply["delivery"] as? String == "delivered")
            #expect(messages.first?["delivery"] is NSNull)
        }
        let actions = try await f.vault.database.read { db in
            try String.fetchAll(db, sql: "SELECT action || ':' || outcome FROM access_log ORDER BY seq")
        }
        #expect(actions.contains("desk.relay_key:denied"))
        #expect(actions.contains("desk.relay_key:allowed"))
        #expect(actions.contains("reply.write:allowed"))
        #expect(actions.contains("relay.outbox.ack:denied"))
        #expect(actions.contains("relay.outbox.ack:allowed"))
    }
}
