import Foundation
import HTTPTypes
import Hummingbird
import VaultCore

/// The JSON error body of API.md: `{"error": {"code", "message"}}` with its status.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    init(_ e: VaultError) {
        let status: HTTPResponse.Status
        switch e.code {
        case .invalidRequest: status = .badRequest
        case .unauthenticated: status = .unauthorized
        case .forbidden: status = .forbidden
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .payloadTooLarge: status = .contentTooLarge
        case .unsupportedMediaType: status = .unsupportedMediaType
        case .rateLimited: status = .tooManyRequests
        case .auditUnavailable, .storageUnavailable: status = .serviceUnavailable
        // Stored data (a key wrap, a signature, the schema) failed its check: the request cannot be served as the
        // vault now stands, and no retry will change that; the operator must look (ops/RUNBOOK.md).
        case .integrity: status = .conflict
        case .internalError: status = .internalServerError
        case .invalidSignature: status = .unauthorized
        case .signatureRequired: status = .forbidden
        case .noChannelSecret: status = .conflict
        }
        self.init(status, e.code.rawValue, e.message, retryAfter: e.retryAfter)
    }

    static func invalid(_ message: String) -> APIError { .init(.badRequest, "invalid_request", message) }
    static let unauthenticated = APIError(
        .unauthorized, "unauthenticated", "missing or invalid bearer token; send Authorization: Bearer TOKEN")
    static func forbidden(_ message: String) -> APIError { .init(.forbidden, "forbidden", message) }
    /// A libsodium check that failed on stored material (a tampered key wrap, a key id that does not match).
    static let cryptoIntegrity = APIError(
        .conflict, "integrity_failure",
        "stored key material failed its integrity check; nothing was served. Report it to the operator")

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = JSONBody.headers
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = try JSONEncoder().encode(["error": ["code": code, "message": message]])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Maps Hummingbird's own errors (no route, body too large, …) to the API's codes.
    static func from(status: HTTPResponse.Status) -> APIError {
        switch status.code {
        case 400: return .invalid("the request is malformed")
        case 401: return .unauthenticated
        case 404: return .init(.notFound, "not_found", "no such route; see /openapi.yaml")
        case 405: return .init(.notFound, "not_found", "no such route for this method; see /openapi.yaml")
        case 413: return .init(.contentTooLarge, "payload_too_large", "the request body exceeds the configured limit")
        case 415: return .init(.unsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
        default:
            return .init(status, status.code >= 500 ? "internal_error" : "invalid_request", status.reasonPhrase)
        }
    }
}
