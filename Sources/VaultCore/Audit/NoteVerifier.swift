import Foundation
import VaultCrypto

/// A C2SP signed-note verifier key, `<name>+<keyhash hex>+<base64(0x01 ‖ Ed25519 public key)>` (FORMAT.md §9).
/// A verifier holds a set of them: at signing-key rotation the old key stays listed, so old notes still verify.
public struct NoteVerifier: Sendable, Equatable {
    public let name: String
    public let keyHash: [UInt8]
    public let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8]) {
        self.name = name
        self.publicKey = publicKey
        self.keyHash = Self.keyHash(name: name, publicKey: publicKey)
    }

    /// First 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
    public static func keyHash(name: String, publicKey: [UInt8]) -> [UInt8] {
        Array(Hashing.sha256(Array(name.utf8) + [0x0a, 0x01] + publicKey)[0..<4])
    }

    /// The verifier key line.
    public var line: String {
        "\(name)+\(keyHash.hex)+\(Data([0x01] + publicKey).base64EncodedString())"
    }

    /// Parses one verifier key line (split on the first two `+`; the base64 part may contain `+`).
    /// - Throws: `VaultError.invalidRequest` naming what is wrong.
    public init(parsing line: String) throws {
        let parts = line.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, let hash = [UInt8](hex: String(parts[1])), hash.count == 4,
            let raw = Data(base64Encoded: String(parts[2])), raw.count == 33, raw.first == 0x01
        else { throw VaultError.invalid("not a verifier key line (<name>+<keyhash>+<base64 key>)") }
        self.init(name: String(parts[0]), publicKey: Array(raw.dropFirst()))
        guard keyHash == hash else {
            throw VaultError.invalid("verifier key \(name): the key hash does not match the key")
        }
    }

    /// Every verifier key in a file: one per non-empty line; lines starting with `#` are comments.
    /// - Throws: `VaultError.invalidRequest` for a bad line or a file without any key.
    public static func parseFile(_ text: String) throws -> [NoteVerifier] {
        let keys = try text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { try NoteVerifier(parsing: $0) }
        guard !keys.isEmpty else { throw VaultError.invalid("the public key file holds no verifier key line") }
        return keys
    }
}
