import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// Every input path gets malformed, oversize, wrong-type, unauthenticated and replayed requests:
/// each answered with the JSON error body, never a 500, and nothing stored twice.
@Suite struct BadInputTests {
    struct Case: CustomStringConvertible {
        let name: String
        let status: HTTPResponse.Status
        let code: String
        let send: @Sendable (any TestClientProtocol, Fixture) async throws -> APIResponse
        var description: String { name }
    }

    static func messageCount(_ f: Fixture) async throws -> Int {
        try await f.vault.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") ?? -1 }
    }

    @Test("bad requests to POST /v1/messages: right status and error body, nothing stored")
    func messagesEndpoint() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        var config = ServeConfiguration()
        config.maxBodyBytes = 4096
        var withoutText = message("x")
        withoutText["text"] = nil
        var wrongType = message("x")
        wrongType["text"] = 42
        var badTime = message("x")
        badTime["sent_at"] = "2026-11-22T09:00:00.123456+09:00"
        var unknownDesk = message("x")
        unknownDesk["desk"] = "nosuchdesk"
        var otherDesk = message("x")
        otherDesk["desk"] = "gyakutai"
        var image = message("x")
        image["kind"] = "image"
        var control = message("x")
        control["external_id"] = "ab\u{0}c"
        var nullDesk = message("x")
        nullDesk["desk"] = NSNull()
        let spec: [(String, HTTPResponse.Status, String, String?, Any?, String?, String?)] = [
            // name, status, code, token, json, raw, content type
            ("malformed JSON", .badRequest, "invalid_request", f.relayToken, nil, "{\"desk\": ", "application/json"),
            ("not an object", .badRequest, "invalid_request", f.relayToken, [1, 2, 3], nil, "application/json"),
            ("empty body", .badRequest, "invalid_request", f.relayToken, nil, "", "application/json"),
            ("missing text", .badRequest, "invalid_request", f.relayToken, withoutText, nil, "application/json"),
            ("text of wrong type", .badRequest, "invalid_request", f.relayToken, wrongType, nil, "application/json"),
            ("null desk", .badRequest, "invalid_request", f.relayToken, nullDesk, nil, "application/json"),
            ("sent_at finer than 1 ms", .badRequest, "invalid_request", f.relayToken, badTime, nil, "application/json"),
            (
                "plain form with kind image", .badRequest, "invalid_request", f.relayToken, image, nil,
                "application/json"
            ),
            (
                "control character in external_id", .badRequest, "invalid_request", f.relayToken, control, nil,
                "application/json"
            ),
            ("unknown desk", .notFound, "not_found", f.relayToken, unknownDesk, nil, "application/json"),
            (
                "desk the token does not cover", .forbidden, "forbidden", f.relayToken, otherDesk, nil,
                "application/json"
            ),
            (
                "oversize body", .contentTooLarge, "payload_too_large", f.relayToken,
                message(String(repeating: "a", count: 5000)),
                nil, "application/json"
            ),
            ("no token", .unauthorized, "unauthenticated", nil, message("x"), nil, "application/json"),
            (
                "wrong token", .unauthorized, "unauthenticated", "cvr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                message("x"), nil,
                "application/json"
            ),
            (
                "garbage token", .unauthorized, "unauthenticated", "not a token at all", message("x"), nil,
                "application/json"
            ),
            (
                "text/plain body", .unsupportedMediaType, "unsupported_media_type", f.relayToken, message("x"), nil,
                "text/plain"
            ),
        ]
        // Serialise up front: the bodies cross into the test client's concurrent closure as strings.
        let cases: [(String, HTTPResponse.Status, String, String?, String, String?)] = try spec.map { s in
            let body =
                try s.4.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) } ?? s.5
                ?? ""
            return (s.0, s.1, s.2, s.3, body, s.6)
        }
        try await makeApp(f, configuration: config).test(.router) { client in
            for (name, status, code, token, raw, ct) in cases {
                let r = try await client.call(.post, "/v1/messages", token: token, raw: raw, contentType: ct)
                #expect(r.status == status, "\(name): got \(r.status)")
                #expect(r.errorCode == code, "\(name): got \(r.errorCode ?? "no error body")")
                #expect(!(r.errorMessage ?? "").isEmpty, "\(name): error message missing")
                #expect(r.headers[HTTPField.Name("X-Request-Id")!] != nil)
            }
            // A staff session token on the relay route is forbidden, not unauthenticated.
            let staff = try await unlockToken(client, f, "cou1")
            let wrongRole = try await client.call(.post, "/v1/messages", token: staff, json: message("x"))
            #expect(wrongRole.status == .forbidden)
            #expect(try await Self.messageCount(f) == 0)
            // Replayed external_id: stored once, second answer 200 with the first ids.
            let first = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("once", external: "dup-1"))
            let second = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("twice", external: "dup-1"))
            #expect(first.status == .created)
            #expect(second.status == .ok)
            #expect(second.json["duplicate"] as? Bool == true)
            #expect(second.json["message_id"] as? String == first.json["message_id"] as? String)
            #expect(second.json["case_id"] as? String == first.json["case_id"] as? String)
            #expect(try await Self.messageCount(f) == 1)
        }
    }

    @Test("concurrent posts of one external id store one message")
    func concurrentDuplicates() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await client.call(
                            .post, "/v1/messages", token: f.relayToken, json: message("same", external: "race")
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            #expect(statuses.filter { $0 == .ok }.count == 7)
        }
        #expect(try await Self.messageCount(f) == 1)
    }

    @Test("bad requests to staff routes: sessions, enrollment, cases, unknown routes")
    func staffRoutes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "cou1")
            let checks: [(String, HTTPResponse.Status, String, APIResponse)] = [
                (
                    "unlock malformed", .badRequest, "invalid_request",
                    try await client.call(.post, "/v1/sessions", raw: "{nope")
                ),
                (
                    "unlock wrong type", .badRequest, "invalid_request",
                    try await client.call(.post, "/v1/sessions", json: ["username": 1, "passphrase": "x"])
                ),
                (
                    "unlock wrong passphrase", .unauthorized, "unauthenticated",
                    try await client.call(.post, "/v1/sessions", json: ["username": "cou1", "passphrase": "wrong one"])
                ),
                (
                    "unlock unknown user", .unauthorized, "unauthenticated",
                    try await client.call(
                        .post, "/v1/sessions", json: ["username": "ghost", "passphrase": "wrong one"])
                ),
                (
                    "enroll missing code", .badRequest, "invalid_request",
                    try await client.call(
                        .post, "/v1/enroll", json: ["username": "cou1", "passphrase": "xxxxxxxxxxxx"])
                ),
                ("cases without token", .unauthorized, "unauthenticated", try await client.call(.get, "/v1/cases")),
                (
                    "cases with relay token", .forbidden, "forbidden",
                    try await client.call(.get, "/v1/cases", token: f.relayToken)
                ),
                (
                    "cases limit 0", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases?limit=0", token: token)
                ),
                (
                    "cases limit text", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases?limit=ten", token: token)
                ),
                (
                    "cases limit too big", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases?limit=1001", token: token)
                ),
                (
                    "cases bad status", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases?status=weird", token: token)
                ),
                (
                    "messages bad id", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases/not-a-uuid/messages", token: token)
                ),
                (
                    "messages unknown case", .notFound, "not_found",
                    try await client.call(.get, "/v1/cases/\(ID.v4())/messages", token: token)
                ),
                (
                    "messages bad after_seq", .badRequest, "invalid_request",
                    try await client.call(.get, "/v1/cases/\(ID.v4())/messages?after_seq=-1", token: token)
                ),
                (
                    "assign wrong type", .badRequest, "invalid_request",
                    try await client.call(.post, "/v1/cases/\(ID.v4())/assign", token: token, json: ["assignee": 3])
                ),
                ("unknown route", .notFound, "not_found", try await client.call(.get, "/v1/nothing-here")),
                (
                    "wrong method", .notFound, "not_found",
                    try await client.call(.put, "/v1/messages", token: f.relayToken)
                ),
            ]
            for (name, status, code, r) in checks {
                #expect(r.status == status, "\(name): got \(r.status)")
                #expect(r.errorCode == code, "\(name): got \(r.errorCode ?? "none")")
                #expect(r.status.code < 500, "\(name) answered 5xx")
            }
        }
    }
}
