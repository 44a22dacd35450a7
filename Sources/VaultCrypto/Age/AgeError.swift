/// Why an age file did not open, in the four classes of the age test vectors. Never carries key material.
public struct AgeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The header does not parse (version, stanza syntax, a bad X25519 stanza, no nonce).
        case header
        /// The header parses but no stanza opens with the identities given.
        case noMatch = "no match"
        /// The header's MAC does not verify under the file key.
        case hmac = "HMAC"
        /// A payload chunk is missing, short, altered, reordered, or followed by trailing data.
        case payload
    }

    public let kind: Kind
    public let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "age \(kind.rawValue) failure: \(detail)" }
}
