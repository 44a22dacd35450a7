import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VaultCore
import VaultTestSupport

@testable import VaultHTTP

/// The relay's hot path parses the plain form with FlatJSON and writes its answer directly; both must give
/// exactly what JSONDecoder and JSONEncoder give, and everything else must still go through JSONDecoder.
@Suite struct RelayFastPathTests {
    typealias MessageRequest = RelayController.MessageRequest

    static func fields(_ r: MessageRequest) -> [String?] {
        [r.desk, r.channel, r.channelUser, r.externalId, r.sentAt, r.kind, r.text, r.caseId]
    }

    @Test("flat all-string bodies: the fast parse equals JSONDecoder's, field by field")
    func sameAsDecoder() throws {
        let bodies = [
            #"{"desk":"ijime","channel":"line","channel_user":"U1","external_id":"e1","sent_at":"2026-11-22T09:00:00.000+09:00","kind":"text","text":"こんにちは 🙏"}"#,
            #" { "text" : "a\"b\\c\/d\n\u00e9\ud83d\ude00" , "desk":"d", "channel":"line", "channel_user":"U", "external_id":"x" } "#,
            #"{"desk":"d","channel":"line","channel_user":"U","external_id":"x","unknown":"ignored","case_id":"c"}"#,
            #"{"desk":"","channel":"sms","channel_user":"","external_id":"","text":""}"#,
        ]
        for body in bodies {
            let fast = try #require(MessageRequest.fast(Array(body.utf8)), "\(body)")
            let slow = try JSONBody.decode(MessageRequest.self, from: Data(body.utf8))
            #expect(Self.fields(fast) == Self.fields(slow), "\(body)")
            #expect(fast.sealed == nil)
        }
    }

    @Test("anything else falls back to JSONDecoder: numbers, null, nested, duplicates, newlines, missing keys")
    func fallsBack() throws {
        let base = #""desk":"d","channel":"line","channel_user":"U","external_id":"x""#
        for body in [
            "{\(base),\"text\":42}", "{\(base),\"text\":null}", "{\(base),\"sealed\":{\"kind\":\"text\"}}",
            "{\(base),\"sealed\":\"x\"}", "{\(base),\"desk\":\"e\"}", "{\n\(base)\n}",
            #"{"desk":"d","channel":"line"}"#,
            "{\(base),\"text\":\"\\ud800\"}", "{\(base)", "[1]", "", "{\(base),\"text\":true}",
        ] {
            #expect(MessageRequest.fast(Array(body.utf8)) == nil, "\(body)")
        }
        // The newline-formatted body is valid: JSONDecoder takes it.
        let pretty = try JSONBody.decode(MessageRequest.self, from: Data("{\n\(base)\n}".utf8))
        #expect(pretty.desk == "d" && pretty.externalId == "x")
    }

    @Test("bearer tokens: the scheme in any case, blanks around the token trimmed, anything else refused")
    func bearer() {
        func request(_ authorization: String?) -> Request {
            var head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/v1/messages")
            if let authorization { head.headerFields[.authorization] = authorization }
            return Request(head: head, body: .init(buffer: ByteBuffer()))
        }
        let cases: [(String?, String?)] = [
            ("Bearer cvr_abc", "cvr_abc"), ("bearer cvr_abc", "cvr_abc"), ("BEARER cvr_abc", "cvr_abc"),
            ("Bearer   cvr_abc \t ", "cvr_abc"), ("Bearer \tcvr_a b\t", "cvr_a b"), ("Bearer x", "x"),
            ("Bearer トークン ", "トークン"), ("Basic cvr_abc", nil), ("Bearercvr_abc", nil), ("Bearer", nil),
            (nil, nil), ("Bearer " + String(repeating: "a", count: 600), nil),
            // Field values reach the handler with their outer blanks already trimmed (swift-http-types).
            ("Bearer    ", nil), (" Bearer cvr_abc", "cvr_abc"), ("Bearer \t x", "x"),
        ]
        for (header, expected) in cases {
            #expect(Auth.bearer(request(header)) == expected, "\(header ?? "no header")")
        }
    }

    @Test("the stored answer has the bytes JSONEncoder gives (sorted keys): 201 new, 200 duplicate, headers kept")
    func storedAnswer() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let body = message("hello", external: "fast-1")
            for expected in [HTTPResponse.Status.created, .ok] {
                let r = try await client.call(.post, "/v1/messages", token: f.relayToken, json: body)
                #expect(r.status == expected)
                let messageID = try #require(r.json["message_id"] as? String)
                let caseID = try #require(r.json["case_id"] as? String)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let reference = try encoder.encode(
                    RelayController.MessageResponse(messageID: messageID, caseID: caseID, duplicate: expected == .ok))
                #expect(r.body == reference)
                #expect(r.headers[.contentType] == "application/json; charset=utf-8")
                #expect(r.headers[.cacheControl] == "no-store")
            }
        }
    }
}
