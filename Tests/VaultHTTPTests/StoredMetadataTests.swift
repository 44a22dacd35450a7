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

/// What the vault stores in clear beside the sealed content must carry nothing personal: the media type of an
/// attachment (never its parameters) and a short machine code from the relay's ack (never free text).
@Suite struct StoredMetadataTests {
    static func databaseBytes(_ f: Fixture) throws -> [(String, Data)] {
        try f.allBytes().filter { $0.0.hasPrefix("vault.sqlite") }
    }

    @Test("only the lowercased media type of a Content-Type is stored and served; a file name leaves no trace")
    func contentTypeParametersDropped() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let canary = "FILENAME-CANARY-\(ID.v4())"
        try await makeApp(f).test(.router) { client in
            let (mid, cid) = try await ContentTests.imageMessage(client, f)
            let put = try await ContentTests.put(
                client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1, 2, 3],
                contentType: #"Image/JPEG ; filename="\#(canary).jpg""#)
            #expect(put.status == .created)
            let token = try await unlockToken(client, f, "cou1")
            let got = try await client.call(.get, "/v1/cases/\(cid)/messages/\(mid)/content", token: token)
            #expect(got.status == .ok)
            #expect(got.headers[.contentType] == "image/jpeg")
            #expect(got.body == Data([1, 2, 3]))
            let read = try await client.call(.get, "/v1/cases/\(cid)/messages", token: token)
            let data = (read.json["messages"] as? [[String: Any]])?.compactMap { $0["data"] as? [String: Any] }
            #expect(data?.contains { $0["content_type"] as? String == "image/jpeg" } == true)
        }
        let stored = try await f.vault.database.read { db in
            try String.fetchAll(db, sql: "SELECT content_type FROM message_content")
        }
        #expect(stored == ["image/jpeg"])
        for (path, bytes) in try Self.databaseBytes(f) {
            #expect(bytes.range(of: Data(canary.utf8)) == nil, "file name in \(path)")
        }
    }

    @Test("a Content-Type that is not type/subtype is refused with 415 and nothing is stored")
    func malformedContentType() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let (mid, _) = try await ContentTests.imageMessage(client, f)
            for bad in ["image", "image/", "/jpeg", "image/jp eg", "image/jpeg/x", "画像/jpeg", "image/*x", " ; a=b"] {
                let r = try await ContentTests.put(
                    client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1], contentType: bad)
                #expect(r.status == .unsupportedMediaType, "\(bad)")
                #expect(r.errorCode == "unsupported_media_type")
                #expect(r.errorMessage?.contains("type/subtype") == true)
            }
            let rows = try await f.vault.database.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM message_content") ?? -1
            }
            #expect(rows == 0)
            let ok = try await ContentTests.put(
                client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: [1], contentType: "video/mp4")
            #expect(ok.status == .created)
        }
    }

    @Test("an outbox ack's detail is a short machine code like line:400; free text is refused and nothing stored")
    func ackDetailIsACode() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let sup = try await f.unlock("sup")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.setRelayKey(
            desk: "ijime", publicKey: try BoxKeyPair.generate().publicKey, supervisor: sup, requestID: "k")
        let posted = try await f.vault.ingest(f.text("たすけて"), relay: f.relay, requestID: "in")
        try await f.vault.assign(caseID: posted.caseID, to: "cou1", as: cou1, requestID: "take")
        _ = try await f.vault.queueReply(caseID: posted.caseID, text: "大丈夫？", as: cou1, requestID: "r")
        let canary = "ACK-CANARY-\(ID.v4())"
        @Sendable func row() async throws -> [String?] {
            try await f.vault.database.read { db in
                let r = try Row.fetchOne(db, sql: "SELECT status, detail, lease_holder FROM outbox")
                return [r?["status"], r?["detail"], r?["lease_holder"]]
            }
        }
        try await makeApp(f).test(.router) { client in
            let leased = try await client.call(.get, "/v1/relay/outbox?lease=60", token: f.relayToken)
            let id = try #require((leased.json["items"] as? [[String: Any]])?.first?["id"] as? String)
            let before = try await row()
            #expect(before == ["pending", nil, "relay1"])
            for bad in [
                "山田さんのアカウントは削除されました \(canary)", "line:400 user blocked \(canary)", "\(canary)",
                "LINE:400", "line:", ":400", "line:400\n", "line:400:1", "abcdefghijklmnopq:1",
                "line:" + String(repeating: "9", count: 33), "line:4 00", "",
            ] {
                let r = try await client.call(
                    .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken,
                    json: ["status": "failed", "detail": bad])
                #expect(r.status == .badRequest, "\(bad)")
                #expect(r.errorCode == "invalid_request")
                #expect(r.errorMessage?.contains("line:400") == true)
                #expect(r.errorMessage?.contains(canary) == false)
                #expect(try await row() == before)
            }
            let ok = try await client.call(
                .post, "/v1/relay/outbox/\(id)/ack", token: f.relayToken,
                json: ["status": "failed", "detail": "line:400"])
            #expect(ok.status == .noContent)
        }
        #expect(try await row() == ["failed", "line:400", nil])
        for (path, bytes) in try Self.databaseBytes(f) {
            #expect(bytes.range(of: Data(canary.utf8)) == nil, "ack text in \(path)")
        }
    }
}
