/// Hex, the way every format of the vault writes it (schema/FORMAT.md: hashes, key ids, UUIDs): the one digit
/// table and the one decoder. Writing is lowercase; reading is strict (lowercase only) unless a caller accepts
/// uppercase as well.
public enum Hex {
    /// Which letter digits a decoder accepts.
    public enum Letters: Sendable {
        /// `a`–`f` only: the strict form, for the formats the vault writes.
        case lowercase
        /// `a`–`f` and `A`–`F`: for text a person typed (recovery shares) and JSON `\u` escapes.
        case anyCase
    }

    /// The lowercase digit of a nibble (the low four bits of `nibble`).
    @inlinable @inline(__always)
    public static func digit(_ nibble: UInt8) -> UInt8 {
        let digits: StaticString = "0123456789abcdef"
        return digits.utf8Start[Int(nibble & 0x0f)]
    }

    /// Writes the `2 × bytes.count` lowercase digits of `bytes` to the start of `out`, which must be that long.
    @inlinable
    public static func encode(_ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count >= 2 * bytes.count, "hex output buffer too small")
        for k in 0..<bytes.count {
            out[2 * k] = digit(bytes[k] >> 4)
            out[2 * k + 1] = digit(bytes[k])
        }
    }

    /// Appends the lowercase digits of `bytes` to `out`.
    @inlinable
    public static func append(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 2 * bytes.underestimatedCount)
        for b in bytes {
            out.append(digit(b >> 4))
            out.append(digit(b))
        }
    }

    /// The lowercase hex string of `bytes`.
    public static func string(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            var j = 0
            for b in bytes {
                out[j] = digit(b >> 4)
                out[j + 1] = digit(b)
                j += 2
            }
            return j
        }
    }

    /// The value of the hex digit `c`, or nil when `c` is not one of `letters`' digits.
    @inlinable @inline(__always)
    public static func value(of c: UInt8, _ letters: Letters = .lowercase) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F") where letters == .anyCase: return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Appends the bytes that the digits spell to `out`; false (with `out` partly written) on an odd count or a
    /// character that is not one of `letters`' digits.
    @inlinable
    public static func decode(
        _ digits: UnsafeBufferPointer<UInt8>, _ letters: Letters = .lowercase, appendingTo out: inout [UInt8]
    ) -> Bool {
        guard digits.count % 2 == 0 else { return false }
        var i = 0
        while i < digits.count {
            guard let hi = value(of: digits[i], letters), let lo = value(of: digits[i + 1], letters) else {
                return false
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return true
    }

    /// The bytes that `s` spells, or nil on an odd count or a character that is not one of `letters`' digits.
    public static func decode(_ s: String, _ letters: Letters = .lowercase) -> [UInt8]? {
        var s = s
        return s.withUTF8 { utf8 in
            var out: [UInt8] = []
            out.reserveCapacity(utf8.count / 2)
            return decode(utf8, letters, appendingTo: &out) ? out : nil
        }
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hex (`Hex.string`).
    public var hex: String { Hex.string(self) }

    /// Parses lowercase or uppercase hex; nil on any other character or odd length (`Hex.decode`, any case).
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex, .anyCase) else { return nil }
        self = bytes
    }
}
