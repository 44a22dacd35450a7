/// The canonical byte encoding used for AAD, labelled wraps, signatures and audit entries:
/// every field is a u32 big-endian length followed by its bytes (schema/FORMAT.md §1).
public struct Canonical: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// An empty encoding with room for `capacity` bytes (for hot paths that know the size).
    public init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Builds the encoding of `fields` in order.
    public static func encode(_ fields: [[UInt8]]) -> [UInt8] {
        var c = Canonical()
        for f in fields { c.append(f) }
        return c.bytes
    }

    public mutating func append(_ field: [UInt8]) {
        appendLength(field.count)
        bytes.append(contentsOf: field)
    }

    public mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            appendLength(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    /// A one-byte field.
    public mutating func append(byte: UInt8) {
        appendLength(1)
        bytes.append(byte)
    }

    /// A u64 big-endian field.
    public mutating func append(u64 v: Int64) {
        appendLength(8)
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: u >> UInt64(shift)))
        }
    }

    private mutating func appendLength(_ count: Int) {
        let n = UInt32(count)
        bytes.append(UInt8(truncatingIfNeeded: n >> 24))
        bytes.append(UInt8(truncatingIfNeeded: n >> 16))
        bytes.append(UInt8(truncatingIfNeeded: n >> 8))
        bytes.append(UInt8(truncatingIfNeeded: n))
    }

    /// Splits an encoding back into its fields.
    /// - Throws: `CryptoError.malformed` if a length runs past the end.
    public static func decode(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 4 else { throw CryptoError(.malformed, "truncated length prefix") }
            let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            i += 4
            guard bytes.count - i >= n else { throw CryptoError(.malformed, "field runs past the end") }
            fields.append(Array(bytes[i..<(i + n)]))
            i += n
        }
        return fields
    }

    /// u32 big-endian.
    public static func u32(_ v: UInt32) -> [UInt8] {
        [
            UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
            UInt8(truncatingIfNeeded: v),
        ]
    }

    /// u64 big-endian.
    public static func u64(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
    }

    public static func u64(_ v: Int64) -> [UInt8] { u64(UInt64(bitPattern: v)) }
}
