import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VaultCrypto

/// The relay's calls to the vault and to LINE: URLs, bearer headers built from the secrets only when a request is
/// made, and one shared HTTP client.
struct Upstream: Sendable {
    let http: HTTPClient
    let config: RelayConfig

    /// `Authorization: Bearer …` for a secret token.
    static func bearer(_ token: SecretBytes) -> String {
        token.withUnsafeBytes { "Bearer " + String(decoding: $0, as: UTF8.self) }
    }

    func vaultRequest(_ path: String, method: HTTPMethod) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: config.vaultURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: Self.bearer(config.vaultToken))
        return request
    }

    /// A path component, percent-encoded.
    static func component(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// Sends a request and reads at most `limit` bytes of the answer.
    func send(_ request: HTTPClientRequest, timeout: Duration, limit: Int = 1 << 20) async throws -> (
        HTTPResponseStatus, HTTPHeaders, ByteBuffer
    ) {
        let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
        let body = try await response.body.collect(upTo: limit)
        return (response.status, response.headers, body)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
}
