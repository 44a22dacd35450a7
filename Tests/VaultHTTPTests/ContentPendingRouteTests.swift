import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// `GET /v1/line/{desk}/content-pending`: what a restarted relay fetches again.
@Suite struct ContentPendingRouteTests {
    static func pending(_ client: some TestClientProtocol, token: String?, desk: String = "ijime") async throws
        -> (HTTPResponse.Status, [[String: Any]])
    {
        let r = try await client.call(.get, "/v1/line/\(desk)/content-pending", token: token)
        return (r.status, r.json["content_pending"] as? [[String: Any]] ?? [])
    }

    @Test("lists LINE media without bytes, oldest first; stored or gone content and text leave the list")
    func listsUntilStoredOrGone() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            try await LineWebhookTests.setSecret(f)
            let body = LINE.body([
                LINE.message(
                    "01HZZZPEND0000000000000001", #"{"type":"image","id":"701","contentProvider":{"type":"line"}}"#),
                LINE.message("01HZZZPEND0000000000000002", #"{"type":"text","id":"702","quoteToken":"q","text":"やあ"}"#),
                LINE.message(
                    "01HZZZPEND0000000000000003", #"{"type":"file","id":"703","fileName":"a.pdf","fileSize":3}"#),
                LINE.message(
                    "01HZZZPEND0000000000000004",
                    #"{"type":"audio","id":"704","duration":1000,"contentProvider":{"type":"line"}}"#),
            ])
            let hook = try await LineWebhookTests.post(client, f, body, signature: try LINE.sign(body))
            #expect(hook.status == .ok)
            let answered = try #require(hook.json["content_pending"] as? [[String: Any]])
            #expect(answered.count == 3)
            let (status, items) = try await Self.pending(client, token: f.relayToken)
            #expect(status == .ok)
            // The same items the webhook answer listed (a restart lost that answer; this gives it back).
            #expect(items.map { $0["line_message_id"] as? String } == ["701", "703", "704"])
            #expect(
                Set(items.compactMap { $0["message_id"] as? String })
                    == Set(answered.compactMap { $0["message_id"] as? String }))
            let first = try #require(items.first?["message_id"] as? String)
            let last = try #require(items.last?["message_id"] as? String)
            #expect(
                try await ContentTests.put(client, "/v1/messages/\(first)/content", token: f.relayToken, bytes: [1, 2])
                    .status == .created)
            #expect(
                try await client.call(.delete, "/v1/messages/\(last)/content", token: f.relayToken).status
                    == .noContent)
            let (_, after) = try await Self.pending(client, token: f.relayToken)
            #expect(after.map { $0["line_message_id"] as? String } == ["703"])
        }
    }

    @Test("no token 401, a staff token or another desk's relay 403 (recorded), unknown desk 404, bad desk 400")
    func refusals() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let other = try await f.vault.issueRelayToken(name: "relay-gyakutai", desks: ["gyakutai"], caller: .cli())
        try await makeApp(f).test(.router) { client in
            #expect(try await Self.pending(client, token: nil).0 == .unauthorized)
            #expect(try await Self.pending(client, token: "cvr_forged").0 == .unauthorized)
            #expect(try await Self.pending(client, token: other).0 == .forbidden)
            let staff = try await unlockToken(client, f, "cou1")
            #expect(try await Self.pending(client, token: staff).0 == .forbidden)
            #expect(try await Self.pending(client, token: f.relayToken, desk: "nosuchdesk").0 == .notFound)
            #expect(
                try await Self.pending(client, token: f.relayToken, desk: String(repeating: "d", count: 65)).0
                    == .badRequest)
        }
        let denied = try await f.vault.database.read { db in
            try String.fetchAll(
                db, sql: "SELECT actor FROM access_log WHERE action = 'relay.content_pending' AND outcome = 'denied'")
        }
        #expect(denied == ["relay-gyakutai"])
    }
}
