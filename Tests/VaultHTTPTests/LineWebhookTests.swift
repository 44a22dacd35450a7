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

/// LINE webhook bodies in the shapes of LINE's published reference (shared/context/line-webhook-openapi.yml).
enum LINE {
    static let secret = "8e1b2d0c6a4f4e1c9d7b3a5f2e6c8d0a"
    static let user = "U4af4980629e7d6f4e3c6f9b3d2a1c0ff"

    static func event(
        _ type: String, id: String, extra: String, source: String = #"{"type":"user","userId":"\#(user)"}"#,
        redelivery: Bool = false
    ) -> String {
        #"{"type":"\#(type)","mode":"active","timestamp":1795000000123,"source":\#(source),"webhookEventId":"\#(id)","deliveryContext":{"isRedelivery":\#(redelivery)}\#(extra)}"#
    }

    static func message(_ id: String, _ message: String, source: String? = nil, redelivery: Bool = false) -> String {
        let extra = #","replyToken":"b60d1ba2fbd9439b9a4d2d5c2b6e7f01","message":\#(message)"#
        return source.map { event("message", id: id, extra: extra, source: $0, redelivery: redelivery) }
            ?? event("message", id: id, extra: extra, redelivery: redelivery)
    }

    static func body(_ events: [String]) -> String {
        #"{"destination":"U0123456789abcdef0123456789abcdef","events":[\#(events.joined(separator: ","))]}"#
    }

    static func sign(_ body: String, secret: String = secret) throws -> String {
        Data(Hashing.hmacSHA256(Array(body.utf8), key: try SecretBytes(copying: Array(secret.utf8))))
            .base64EncodedString()
    }

    static let text = message(
        "01HZZZTEXT0000000000000001",
        #"{"type":"text","id":"468789577898262530","quoteToken":"q3Plxr4AgKd","text":"学校でいじめられています😭 たすけて\n\"引用\" \\ end"}"#
    )
    static let all: [String] = [
        text,
        message(
            "01HZZZIMAGE000000000000001",
            #"{"type":"image","id":"354718705033693859","quoteToken":"q3Plx","contentProvider":{"type":"line"},"imageSet":{"id":"E005D41A7288F41B65","index":1,"total":2}}"#
        ),
        message(
            "01HZZZVIDEO000000000000001",
            #"{"type":"video","id":"325708","quoteToken":"q3Plx","duration":60000,"contentProvider":{"type":"line"}}"#),
        message(
            "01HZZZAUDIO000000000000001",
            #"{"type":"audio","id":"325709","duration":60000,"contentProvider":{"type":"line"}}"#),
        message(
            "01HZZZFILE0000000000000001",
            #"{"type":"file","id":"325710","fileName":"日記.pdf","fileSize":2138}"#),
        message(
            "01HZZZLOCATION00000000001",
            #"{"type":"location","id":"325711","title":"学校","address":"東京都千代田区","latitude":35.65910807942215,"longitude":139.70372892916203}"#
        ),
        message(
            "01HZZZSTICKER00000000001",
            #"{"type":"sticker","id":"325712","quoteToken":"q3Plx","packageId":"446","stickerId":"1988","stickerResourceType":"ANIMATION","keywords":["cry"]}"#
        ),
        event(
            "follow", id: "01HZZZFOLLOW000000000001",
            extra: #","replyToken":"85cbe770fa8b4f45bbb5a4a1e9a2b3c4","follow":{"isUnblocked":true}"#),
        event("unfollow", id: "01HZZZUNFOLLOW0000000001", extra: ""),
        // Ignored: a group and a room message, an unknown event type, an unknown message type.
        message(
            "01HZZZGROUP0000000000001", #"{"type":"text","id":"9001","quoteToken":"q","text":"group"}"#,
            source: #"{"type":"group","groupId":"Ca56f94637c","userId":"\#(user)"}"#),
        message(
            "01HZZZROOM00000000000001", #"{"type":"text","id":"9002","quoteToken":"q","text":"room"}"#,
            source: #"{"type":"room","roomId":"Ra8dbf4673c","userId":"\#(user)"}"#),
        event("beacon", id: "01HZZZBEACON000000000001", extra: #","beacon":{"hwid":"d41d8cd98f","type":"enter"}"#),
        message("01HZZZNEWTYPE00000000001", #"{"type":"hologram","id":"9003"}"#),
    ]
}

@Suite struct LineWebhookTests {
    static func setSecret(_ f: Fixture, desk: String = "ijime") async throws {
        try await f.vault.setLineSecret(
            desk: desk, secret: try SecretBytes(copying: Array(LINE.secret.utf8)), caller: .cli())
    }

    static func post(
        _ client: some TestClientProtocol, _ f: Fixture, _ body: String, signature: String?, token: String? = nil,
        desk: String = "ijime"
    ) async throws -> APIResponse {
        var headers: HTTPFields = [:]
        if let signature { headers[HTTPField.Name("X-Line-Signature")!] = signature }
        return try await client.call(
            .post, "/v1/line/\(desk)/webhook", token: token ?? f.relayToken, raw: body,
            contentType: "application/json; charset=utf-8", headers: headers)
    }

    static func counts(_ f: Fixture) async throws -> (messages: Int, events: Int, log: Int) {
        try await f.vault.database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM line_events") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM access_log") ?? -1
            )
        }
    }

    @Test("every event type of LINE's reference is stored or counted; a counselor reads them back")
    func allEventTypes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        let body = LINE.body(LINE.all)
        try await makeApp(f).test(.router) { client in
            let r = try await Self.post(client, f, body, signature: try LINE.sign(body))
            #expect(r.status == .ok)
            #expect(r.json["accepted"] as? Int == 9)
            #expect(r.json["duplicates"] as? Int == 0)
            #expect(r.json["ignored"] as? Int == 4)
            let pending = try #require(r.json["content_pending"] as? [[String: Any]])
            #expect(
                Set(pending.compactMap { $0["line_message_id"] as? String })
                    == ["354718705033693859", "325708", "325709", "325710"])
            #expect(pending.allSatisfy { ($0["message_id"] as? String).flatMap(ID.init) != nil })

            let token = try await unlockToken(client, f, "cou1")
            let cases = try #require(
                (try await client.call(.get, "/v1/cases", token: token)).json["cases"] as? [[String: Any]])
            #expect(cases.count == 1)
            let caseID = try #require(cases.first?["id"] as? String)
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            let messages = try #require(read.json["messages"] as? [[String: Any]])
            #expect(
                messages.map { $0["kind"] as? String ?? "" }
                    == ["text", "image", "video", "audio", "file", "location", "sticker", "follow", "unfollow"])
            #expect(messages[0]["text"] as? String == "学校でいじめられています😭 たすけて\n\"引用\" \\ end")
            #expect(messages[0]["direction"] as? String == "inbound")
            #expect(messages[0]["sent_at"] as? String == "2026-11-18T11:06:40.123Z")
            let image = try #require(messages[1]["data"] as? [String: Any])
            #expect(image["content_available"] as? Bool == false)
            #expect(image["line_message_id"] as? String == "354718705033693859")
            let file = try #require(messages[4]["data"] as? [String: Any])
            #expect(file["file_name"] as? String == "日記.pdf")
            #expect(file["file_size"] as? Int == 2138)
            let location = try #require(messages[5]["data"] as? [String: Any])
            #expect(location["title"] as? String == "学校")
            #expect(location["address"] as? String == "東京都千代田区")
            #expect((location["latitude"] as? Double).map { abs($0 - 35.65910807942215) < 1e-12 } == true)
            #expect((location["longitude"] as? Double).map { abs($0 - 139.70372892916203) < 1e-12 } == true)
            let sticker = try #require(messages[6]["data"] as? [String: Any])
            #expect(sticker["package_id"] as? String == "446")
            #expect(sticker["sticker_id"] as? String == "1988")
            #expect(messages[7]["direction"] as? String == "event")
            #expect((messages[7]["data"] as? [String: Any])?["is_unblocked"] as? Bool == true)
            #expect(messages[8]["direction"] as? String == "event")
        }
        // Each stored event is a relay.write entry naming the token, with the envelope hash.
        let writes = try await f.vault.database.read { db in
            try Row.fetchAll(db, sql: "SELECT actor, envelope_hash FROM access_log WHERE action = 'relay.write'").map {
                ($0["actor"] as String, ($0["envelope_hash"] as Data?)?.count ?? 0)
            }
        }
        #expect(writes.count == 9)
        #expect(writes.allSatisfy { $0.0 == "relay1" && $0.1 == 32 })
    }

    @Test("a redelivery (same webhookEventId) is counted as duplicate and stores nothing new")
    func redeliveryIsDuplicate() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        let first = LINE.body(LINE.all)
        let again = LINE.body([
            LINE.message(
                "01HZZZTEXT0000000000000001",
                #"{"type":"text","id":"468789577898262530","quoteToken":"q3Plxr4AgKd","text":"学校でいじめられています😭 たすけて\n\"引用\" \\ end"}"#,
                redelivery: true),
            LINE.message(
                "01HZZZIMAGE000000000000001",
                #"{"type":"image","id":"354718705033693859","quoteToken":"q3Plx","contentProvider":{"type":"line"}}"#,
                redelivery: true),
        ])
        try await makeApp(f).test(.router) { client in
            #expect(try await Self.post(client, f, first, signature: try LINE.sign(first)).status == .ok)
            let before = try await Self.counts(f)
            let r = try await Self.post(client, f, again, signature: try LINE.sign(again))
            #expect(r.status == .ok)
            #expect(r.json["accepted"] as? Int == 0)
            #expect(r.json["duplicates"] as? Int == 2)
            #expect(
                (r.json["content_pending"] as? [[String: Any]])?.first?["line_message_id"] as? String
                    == "354718705033693859")
            let after = try await Self.counts(f)
            #expect(after.messages == before.messages)
            #expect(after.events == before.events)
        }
    }

    @Test("two simultaneous deliveries of one event store it once")
    func concurrentRedelivery() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        let body = LINE.body([LINE.text])
        let signature = try LINE.sign(body)
        try await makeApp(f).test(.router) { client in
            async let a = Self.post(client, f, body, signature: signature)
            async let b = Self.post(client, f, body, signature: signature)
            let (ra, rb) = try await (a, b)
            #expect(ra.status == .ok && rb.status == .ok)
            #expect((ra.json["accepted"] as? Int ?? 0) + (rb.json["accepted"] as? Int ?? 0) == 1)
            #expect((ra.json["duplicates"] as? Int ?? 0) + (rb.json["duplicates"] as? Int ?? 0) == 1)
        }
        #expect(try await Self.counts(f).messages == 1)
    }

    @Test("with the desk's unsend policy `delete`, an unsend removes the stored message; a redelivery stays out")
    func unsendDeletes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        try await f.vault.setUnsendPolicy(desk: "ijime", policy: "delete", caller: .cli())
        let first = LINE.body([LINE.text])
        let unsend = LINE.body([
            LINE.event(
                "unsend", id: "01HZZZUNSEND000000000001", extra: #","unsend":{"messageId":"468789577898262530"}"#)
        ])
        try await makeApp(f).test(.router) { client in
            #expect(try await Self.post(client, f, first, signature: try LINE.sign(first)).status == .ok)
            #expect(try await Self.counts(f).messages == 1)
            #expect(try await Self.post(client, f, unsend, signature: try LINE.sign(unsend)).status == .ok)
            #expect(try await Self.counts(f).messages == 0)
            let again = try await Self.post(client, f, first, signature: try LINE.sign(first))
            #expect(again.json["duplicates"] as? Int == 1)
            #expect(try await Self.counts(f).messages == 0)
        }
        for (path, data) in try f.allBytes() where path.hasPrefix("vault.sqlite") {
            #expect(data.range(of: Data("いじめられています".utf8)) == nil)
        }
    }

    @Test("an unsend that deletes takes the message out of the unread figures, read or not")
    func unsendDeleteUnread() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        try await f.vault.setUnsendPolicy(desk: "ijime", policy: "delete", caller: .cli())
        @Sendable func text(_ n: Int) -> String {
            LINE.message(
                "01HZZZTEXT000000000000000\(n)", #"{"type":"text","id":"46878957789826000\#(n)","text":"t\#(n)"}"#)
        }
        @Sendable func unsend(_ n: Int) -> String {
            LINE.event(
                "unsend", id: "01HZZZUNSEND00000000000\(n)", extra: #","unsend":{"messageId":"46878957789826000\#(n)"}"#
            )
        }
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "cou1")
            func unread() async throws -> Int? {
                ((try await client.call(.get, "/v1/cases", token: token)).json["cases"] as? [[String: Any]])?.first?[
                    "unread"] as? Int
            }
            for events in [[text(1), text(2), text(3)], [unsend(3)]] {
                let body = LINE.body(events)
                #expect(try await Self.post(client, f, body, signature: try LINE.sign(body)).status == .ok)
            }
            #expect(try await unread() == 2)  // the unread third one went
            let caseID = try #require(
                ((try await client.call(.get, "/v1/cases", token: token)).json["cases"] as? [[String: Any]])?.first?[
                    "id"] as? String)
            #expect(try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token).status == .ok)
            #expect(try await unread() == 0)
            for events in [[unsend(1)], [text(4)]] {  // a read one goes; a new one arrives
                let body = LINE.body(events)
                #expect(try await Self.post(client, f, body, signature: try LINE.sign(body)).status == .ok)
            }
            #expect(try await unread() == 1)
        }
    }

    @Test("unsend retracts: text hidden; include_retracted needs X-Access-Reason and is recorded with it")
    func unsendRetracts() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.setSecret(f)
        let body = LINE.body([
            LINE.text,
            LINE.event(
                "unsend", id: "01HZZZUNSEND000000000001", extra: #","unsend":{"messageId":"468789577898262530"}"#),
        ])
        try await makeApp(f).test(.router) { client in
            let r = try await Self.post(client, f, body, signature: try LINE.sign(body))
            #expect(r.json["accepted"] as? Int == 2)
            let token = try await unlockToken(client, f, "cou1")
            let caseID = try #require(
                ((try await client.call(.get, "/v1/cases", token: token)).json["cases"] as? [[String: Any]])?.first?[
                    "id"] as? String)
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            let m = try #require((read.json["messages"] as? [[String: Any]])?.first)
            #expect(m["retracted"] as? Bool == true)
            #expect(m["text"] is NSNull)
            #expect(read.body.range(of: Data("いじめ".utf8)) == nil)
            let noReason = try await client.call(
                .get, "/v1/cases/\(caseID)/messages?include_retracted=true", token: token)
            #expect(noReason.status == .badRequest)
            let withReason = try await client.call(
                .get, "/v1/cases/\(caseID)/messages?include_retracted=true", token: token,
                headers: [HTTPField.Name("X-Access-Reason")!: "safety review requested by supervisor"])
            #expect(withReason.status == .ok)
            #expect(
                (withReason.json["messages"] as? [[String: Any]])?.first?["text"] as? String
                    == "学校でいじめられています😭 たすけて\n\"引用\" \\ end")
        }
        let reads = try await f.vault.database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT target, reason_sealed FROM access_log WHERE action = 'transcript.read' ORDER BY seq"
            ).map { ($0["target"] as String, ($0["reason_sealed"] as Data?) != nil) }
        }
        #expect(reads.count == 2)
        #expect(reads.last?.0.hasSuffix("include_retracted") == true)
        #expect(reads.last?.1 == true)
        #expect(reads.first?.1 == false)
    }

    @Test("bad webhooks: wrong or missing signature, no secret, no or foreign token, not LINE, wrong type, too big")
    func badWebhooks() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let body = LINE.body([LINE.text])
        let other = try await f.vault.issueRelayToken(name: "relay-gyakutai", desks: ["gyakutai"], caller: .cli())
        try await makeApp(
            f,
            configuration: {
                var c = ServeConfiguration()
                c.maxBodyBytes = 4096
                return c
            }()
        ).test(
            .router
        ) { client in
            // No channel secret yet.
            let noSecret = try await Self.post(client, f, body, signature: try LINE.sign(body))
            #expect(noSecret.status == .conflict)
            #expect(noSecret.errorCode == "no_channel_secret")
            try await Self.setSecret(f)
            let before = try await Self.counts(f)
            // A flipped byte in the signed body.
            let signature = try LINE.sign(body)
            let flipped = body.replacingOccurrences(of: "たすけて", with: "たすけで")
            let r1 = try await Self.post(client, f, flipped, signature: signature)
            #expect(r1.status == .unauthorized)
            #expect(r1.errorCode == "invalid_signature")
            let r2 = try await Self.post(client, f, body, signature: try LINE.sign(body, secret: "another-secret"))
            #expect(r2.errorCode == "invalid_signature")
            let r3 = try await Self.post(client, f, body, signature: "not base64!")
            #expect(r3.errorCode == "invalid_signature")
            let r4 = try await Self.post(client, f, body, signature: nil)
            #expect(r4.status == .forbidden)
            #expect(r4.errorCode == "signature_required")
            // The token is checked first.
            let r5 = try await client.call(
                .post, "/v1/line/ijime/webhook", raw: body,
                headers: [HTTPField.Name("X-Line-Signature")!: signature])
            #expect(r5.status == .unauthorized)
            #expect(r5.errorCode == "unauthenticated")
            let r6 = try await Self.post(client, f, body, signature: signature, token: other)
            #expect(r6.status == .forbidden)
            let r7 = try await Self.post(client, f, body, signature: signature, desk: "nosuchdesk")
            #expect(r7.status == .notFound)
            // Signed, but not a LINE webhook.
            for junk in [
                "[1,2]", "{}", #"{"destination":"U1","events":{}}"#, "not json",
                #"{"destination":"U1","events":[{"type":"message","webhookEventId":"x","timestamp":1,"source":{"type":"user","userId":"U1"}}]}"#,
                #"{"destination":"U1","events":[{"type":"message","webhookEventId":"x","timestamp":"soon","source":{"type":"user","userId":"U1"},"message":{"type":"text","id":"1","text":"a"}}]}"#,
            ] {
                let r = try await Self.post(client, f, junk, signature: try LINE.sign(junk))
                #expect(r.status == .badRequest, "\(junk)")
                #expect(r.errorCode == "invalid_request")
            }
            let wrongType = try await client.call(
                .post, "/v1/line/ijime/webhook", token: f.relayToken, raw: body, contentType: "text/plain",
                headers: [HTTPField.Name("X-Line-Signature")!: signature])
            #expect(wrongType.status == .unsupportedMediaType)
            let big = LINE.body([LINE.text] + Array(repeating: LINE.all[5], count: 40))
            let tooBig = try await Self.post(client, f, big, signature: try LINE.sign(big))
            #expect(tooBig.status == .contentTooLarge)
            // Nothing was stored by any of them (the foreign-desk attempt is recorded as a denial).
            let after = try await Self.counts(f)
            #expect(after.messages == before.messages)
            #expect(after.events == before.events)
            #expect(after.log == before.log + 1)
        }
    }
}
