import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// Helpers shared by the HTTP tests: requests with JSON bodies and bearer tokens, decoded answers.
struct APIResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: Any? = nil, raw: String? = nil,
        contentType: String? = "application/json", headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if body != nil, let contentType { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { r in
            APIResponse(status: r.status, headers: r.headers, body: Data(buffer: r.body))
        }
    }
}

func makeApp(_ f: Fixture, configuration: ServeConfiguration = ServeConfiguration()) -> some ApplicationProtocol {
    Application(router: buildRouter(vault: f.vault, configuration: configuration))
}

func message(
    _ text: String, external: String = "ext-\(ID.v4())", user: String = "U0123456789abcdef0123456789abcdef",
    desk: String = "ijime"
) -> [String: Any] {
    [
        "desk": desk, "channel": "line", "channel_user": user, "external_id": external,
        "sent_at": "2026-11-22T09:00:00.123+09:00", "kind": "text", "text": text,
    ]
}

func unlockToken(_ client: some TestClientProtocol, _ f: Fixture, _ user: String) async throws -> String {
    let r = try await client.call(.post, "/v1/sessions", json: ["username": user, "passphrase": f.passphrases[user]!])
    #expect(r.status == .created)
    return try #require(r.json["token"] as? String)
}
