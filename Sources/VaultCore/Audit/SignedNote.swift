import Foundation
import VaultCrypto

/// A C2SP signed note: text (non-empty lines, each ending in "\n"), a blank line, then one or more
/// signature lines `— <name> <base64(keyhash(4) ‖ Ed25519 signature(64))>` (FORMAT.md §6.3).
public struct SignedNote: Sendable, Equatable {
    public struct Signature: Sendable, Equatable {
        public let name: String
        public let keyHash: [UInt8]
        public let signature: [UInt8]

        var line: String { "— \(name) \(Data(keyHash + signature).base64EncodedString())\n" }
    }

    public let text: String
    public private(set) var signatures: [Signature]

    /// The note as stored and exported: text, blank line, signature lines.
    public var encoded: String { text + "\n" + signatures.map(\.line).joined() }

    /// Signs `text` with one or more keys (a rotation checkpoint carries both the old and the new key's).
    public init(text: String, name: String, signers: [SigningKeyPair]) {
        self.text = text
        self.signatures = signers.map { key in
            Signature(
                name: name, keyHash: NoteVerifier.keyHash(name: name, publicKey: key.publicKey),
                signature: key.sign(Array(text.utf8)))
        }
    }

    /// Parses an encoded note.
    /// - Throws: `VaultError.invalidRequest` when the layout is not a signed note.
    public init(parsing encoded: String) throws {
        guard let split = encoded.range(of: "\n\n") else { throw VaultError.invalid("a signed note has no blank line") }
        let text = String(encoded[..<split.lowerBound]) + "\n"
        let rest = encoded[split.upperBound...]
        guard rest.hasSuffix("\n") else { throw VaultError.invalid("a signed note must end with a newline") }
        var signatures: [Signature] = []
        for line in rest.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "—", !parts[1].isEmpty, let raw = Data(base64Encoded: String(parts[2])),
                raw.count == 68
            else { throw VaultError.invalid("a signature line is malformed") }
            signatures.append(
                Signature(name: String(parts[1]), keyHash: Array(raw.prefix(4)), signature: Array(raw.dropFirst(4))))
        }
        guard !signatures.isEmpty else { throw VaultError.invalid("a signed note carries no signature") }
        self.text = text
        self.signatures = signatures
    }

    /// Checks the signatures against `verifiers`: signatures by unknown keys are ignored (C2SP), a signature by
    /// a known key must verify, and at least one known key must have signed.
    /// - Returns: the verifiers whose signatures hold.
    /// - Throws: `VaultError.integrity` saying which rule failed.
    @discardableResult
    public func verify(with verifiers: [NoteVerifier]) throws -> [NoteVerifier] {
        var good: [NoteVerifier] = []
        let message = Array(text.utf8)
        for s in signatures {
            guard let v = verifiers.first(where: { $0.name == s.name && $0.keyHash == s.keyHash }) else { continue }
            guard SigningKeyPair.verify(signature: s.signature, message: message, publicKey: v.publicKey) else {
                throw VaultError.integrity("the signature by key \(v.keyHash.hex) does not verify")
            }
            good.append(v)
        }
        guard !good.isEmpty else {
            throw VaultError.integrity("not signed by any of the given verifier keys (signed by an unknown key)")
        }
        return good
    }
}
