import Foundation
import VaultCrypto

/// A 16-byte identifier (UUID bytes) with a lowercase string form.
public struct ID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init?(_ string: String) {
        guard let u = UUID(uuidString: string) else { return nil }
        self.bytes = withUnsafeBytes(of: u.uuid) { Array($0) }
    }

    /// A UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits (RFC 9562 §5.7).
    public static func v7(milliseconds: Int64) -> ID {
        var b = SecureRandom.bytes(16)
        let ms = UInt64(max(0, milliseconds))
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: ms >> (40 - 8 * UInt64(i))) }
        b[6] = 0x70 | (b[6] & 0x0f)
        b[8] = 0x80 | (b[8] & 0x3f)
        return ID(bytes: b)!
    }

    /// A random UUIDv4.
    public static func v4() -> ID {
        var b = SecureRandom.bytes(16)
        b[6] = 0x40 | (b[6] & 0x0f)
        b[8] = 0x80 | (b[8] & 0x3f)
        return ID(bytes: b)!
    }

    /// The version nibble (7 for UUIDv7).
    public var version: Int { Int(bytes[6] >> 4) }

    /// Appends the lowercase 8-4-4-4-12 UUID string's 36 bytes to `out` (a transcript page writes one per message).
    public func appendDescription(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 36))
        out.withUnsafeMutableBufferPointer {
            _ = writeDescription(into: UnsafeMutableBufferPointer(rebasing: $0[start...]))
        }
    }

    /// The lowercase 8-4-4-4-12 UUID string (built byte by byte: it is on every request's hot path).
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { writeDescription(into: $0) }
    }

    /// Writes the 36 bytes of the UUID string into `out` (at least 36 long); returns 36.
    private func writeDescription(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var j = 0
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 {
                out[j] = UInt8(ascii: "-")
                j += 1
            }
            out[j] = Hex.digit(b >> 4)
            out[j + 1] = Hex.digit(b)
            j += 2
        }
        return j
    }

    public static func < (a: ID, b: ID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
