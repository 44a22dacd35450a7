import Foundation
import VaultCrypto

/// Public keys of an enrolled user whose vault attestation has been checked.
public struct UserKeys: Sendable, Equatable {
    public let userID: ID
    public let username: String
    public let role: Role
    public let boxPublic: [UInt8]
    public let signPublic: [UInt8]

    public var boxKeyID: [UInt8] { Hashing.keyID(boxPublic) }

    /// First 16 bytes of BLAKE2b-256(X25519 public ‖ Ed25519 public) as 8 groups of 4 hex digits.
    public var fingerprint: String { Self.fingerprint(boxPublic: boxPublic, signPublic: signPublic) }

    public static func fingerprint(boxPublic: [UInt8], signPublic: [UInt8]) -> String {
        let h = Array(Hashing.blake2b(boxPublic + signPublic, outputLength: 32)[0..<16]).hex
        return stride(from: 0, to: 32, by: 4).map { i in
            String(h[h.index(h.startIndex, offsetBy: i)..<h.index(h.startIndex, offsetBy: i + 4)])
        }.joined(separator: " ")
    }

    /// Normalises a typed fingerprint: lowercase hex digits only.
    public static func normalize(_ s: String) -> String {
        String(s.lowercased().filter { $0.isHexDigit })
    }

    static func attestationMessage(userID: ID, username: String, role: Role, box: [UInt8], sign: [UInt8]) -> [UInt8] {
        Canonical.encode([
            Array("consultvault/user-attestation/v1".utf8), userID.bytes, Array(username.utf8),
            Array(role.rawValue.utf8),
            box, sign,
        ])
    }
}

extension UserKeys {
    func attest(with signing: SigningKeyPair) -> [UInt8] {
        signing.sign(
            Self.attestationMessage(userID: userID, username: username, role: role, box: boxPublic, sign: signPublic))
    }
}
