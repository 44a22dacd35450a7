/// A domain error with a stable code that the HTTP layer maps to a status and the CLI prints.
/// Messages say what went wrong and what to do; they never contain secrets, content or channel ids.
public struct VaultError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"
        case unauthenticated
        case forbidden
        case notFound = "not_found"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case rateLimited = "rate_limited"
        case auditUnavailable = "audit_unavailable"
        case storageUnavailable = "storage_unavailable"
        case integrity = "integrity_failure"
        case internalError = "internal_error"
        /// LINE webhook: `X-Line-Signature` does not match the body (401).
        case invalidSignature = "invalid_signature"
        /// LINE webhook: no `X-Line-Signature` (403).
        case signatureRequired = "signature_required"
        /// LINE webhook: the desk has no channel secret yet (409).
        case noChannelSecret = "no_channel_secret"
    }

    public let code: Code
    public let message: String
    /// Seconds a client should wait (rate limiting).
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalid(_ m: String) -> VaultError { .init(.invalidRequest, m) }
    static func forbidden(_ m: String) -> VaultError { .init(.forbidden, m) }
    static func notFound(_ m: String) -> VaultError { .init(.notFound, m) }
    static func conflict(_ m: String) -> VaultError { .init(.conflict, m) }
    static func integrity(_ m: String) -> VaultError { .init(.integrity, m) }
}
