import Foundation
import VaultCrypto

/// One-time enrollment codes: 20 Crockford base32 characters (100 bits) in groups of five.
public enum EnrollmentCode {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    public static func generate() -> String {
        let chars = (0..<20).map { _ in alphabet[Int(SecureRandom.uniform(32))] }
        return stride(from: 0, to: 20, by: 5).map { String(chars[$0..<($0 + 5)]) }.joined(separator: "-")
    }

    /// BLAKE2b-256 of the uppercase code without separators.
    public static func hash(_ code: String) -> [UInt8] {
        let normalized = code.uppercased().filter { $0 != "-" && $0 != " " }
        return Hashing.blake2b(Array(normalized.utf8))
    }
}
