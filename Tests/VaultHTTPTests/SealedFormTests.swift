import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultCrypto
import VaultHTTP
import VaultTestSupport

@Suite struct SealedFormTests {
    @Test("intake/route answers the case and its epoch key; bad routes and sealed forms are refused, nothing stored")
    func routeAndBadSealedForms() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let other = try await f.vault.issueRelayToken(name: "relay-gyakutai", desks: ["gyakutai"], caller: .cli())
        try await makeApp(f).test(.router) { client in
            let route = try await client.call(
                .post, "/v1/intake/route", token: f.relayToken, json: ["desk": "ijime", "channel_user": "Uroute1"])
            #expect(route.status == .ok)
            let caseID = try #require(route.json["case_id"] as? String)
            let keyID = try #require(route.json["key_id"] as? String)
            let pk = try #require((route.json["public_key"] as? String).flatMap { Data(base64Encoded: $0) })
            #expect(Hashing.keyID(Array(pk)).hex == keyID)
            let again = try await client.call(
                .post, "/v1/intake/route", token: f.relayToken, json: ["desk": "ijime", "channel_user": "Uroute1"])
            #expect(again.json["case_id"] as? String == caseID)
            #expect(
                try await client.call(.post, "/v1/intake/route", json: ["desk": "ijime", "channel_user": "U"]).status
                    == .unauthorized)
            #expect(
                try await client.call(
                    .post, "/v1/intake/route", token: other, json: ["desk": "ijime", "channel_user": "U"]
                )
                .status == .forbidden)
            #expect(
                try await client.call(.post, "/v1/intake/route", token: f.relayToken, json: ["desk": "ijime"]).status
                    == .badRequest)
            #expect(
                try await client.call(
                    .post, "/v1/intake/route", token: f.relayToken, json: ["desk": 5, "channel_user": "U"]
                )
                .status == .badRequest)

            let goodSession = try BoxKeyPair.generate().publicKey
            let good: [String: Any] = [
                "message_id": ID.v7(milliseconds: 1_795_000_000_000).description, "key_id": keyID,
                "sent_at": "2026-11-22T09:00:00.123+09:00", "kind": "text",
                "body": Data(repeating: 1, count: 60).base64EncodedString(),
                "key": Data(repeating: 2, count: 155).base64EncodedString(),
            ]
            func sealed(_ change: (inout [String: Any]) -> Void, outer: [String: Any] = [:]) -> [String: Any] {
                var s = good
                change(&s)
                var m: [String: Any] = [
                    "desk": "ijime", "channel": "line", "channel_user": "Uroute1", "external_id": "sf-\(ID.v4())",
                    "case_id": caseID, "sealed": s,
                ]
                for (k, v) in outer { m[k] = v }
                return m
            }
            let bad: [[String: Any]] = [
                sealed { $0["key_id"] = "XYZ" },
                sealed { $0["key_id"] = String(repeating: "0", count: 31) },
                sealed { $0["body"] = "***" },
                sealed { $0["key"] = Data(repeating: 2, count: 154).base64EncodedString() },
                sealed { $0["message_id"] = ID.v4().description },
                sealed { $0["message_id"] = "nope" },
                sealed { $0["sent_at"] = "yesterday" },
                sealed { $0["kind"] = "note" },
                sealed { $0.removeValue(forKey: "body") },
                sealed({ _ in }, outer: ["case_id": "not-a-uuid"]),
                sealed({ _ in }, outer: ["text": "plaintext too"]),
                // Version 2 shapes: unknown version, a session key without version 2, version 2 without one,
                // a short or low-order session key, a version 1 key length in version 2, a wrong type.
                sealed { $0["version"] = 3 },
                sealed { $0["version"] = "2" },
                sealed { $0["session_public_key"] = Data(repeating: 9, count: 32).base64EncodedString() },
                sealed {
                    $0["version"] = 2
                    $0["key"] = Data(repeating: 2, count: 72).base64EncodedString()
                },
                sealed {
                    $0["version"] = 2
                    $0["key"] = Data(repeating: 2, count: 72).base64EncodedString()
                    $0["session_public_key"] = Data(repeating: 9, count: 31).base64EncodedString()
                },
                sealed {
                    $0["version"] = 2
                    $0["key"] = Data(repeating: 2, count: 72).base64EncodedString()
                    $0["session_public_key"] = Data(repeating: 0, count: 32).base64EncodedString()
                },
                sealed {
                    $0["version"] = 2
                    $0["session_public_key"] = Data(goodSession).base64EncodedString()
                },
            ]
            for body in bad {
                let r = try await client.call(.post, "/v1/messages", token: f.relayToken, json: body)
                #expect(r.status == .badRequest, "\(body)")
                #expect(r.errorCode == "invalid_request")
            }
            let stale = sealed { $0["key_id"] = String(repeating: "0", count: 32) }
            let r409 = try await client.call(.post, "/v1/messages", token: f.relayToken, json: stale)
            #expect(r409.status == .conflict)
            let unknownCase = sealed({ _ in }, outer: ["case_id": ID.v4().description])
            #expect(
                try await client.call(.post, "/v1/messages", token: f.relayToken, json: unknownCase).status == .notFound
            )
            #expect(
                try await client.call(.post, "/v1/messages", token: other, json: sealed { _ in }).status == .forbidden)
            #expect(try await client.call(.post, "/v1/messages", json: sealed { _ in }).status == .unauthorized)
            // The well-formed one is stored (the vault cannot open it; a reader would see it unreadable).
            let ok = try await client.call(.post, "/v1/messages", token: f.relayToken, json: sealed { _ in })
            #expect(ok.status == .created)
            // A well-formed version 2 form is stored with its session (one row for the session's two messages).
            for _ in 0..<2 {
                let v2 = try await client.call(
                    .post, "/v1/messages", token: f.relayToken,
                    json: sealed {
                        $0["message_id"] = ID.v7(milliseconds: 1_795_000_000_000).description
                        $0["version"] = 2
                        $0["key"] = Data(repeating: 2, count: 72).base64EncodedString()
                        $0["session_public_key"] = Data(goodSession).base64EncodedString()
                    })
                #expect(v2.status == .created)
            }
        }
        let (count, sessions) = try await f.vault.database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM messages"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM sender_sessions")
            )
        }
        #expect(count == 3)
        #expect(sessions == 1)
    }
}
