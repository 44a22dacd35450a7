import VaultCrypto

/// The one JSON string escaper: `"` and `\` escaped, control characters (below 0x20) escaped, everything else
/// written as UTF-8 (RFC 8259 §7). The formats the vault writes agree on all of that and differ in one point, fixed
/// by their specs, which `ShortEscapes` names: which control characters get a two-character escape.
public enum JSONString {
    /// The control characters written as a two-character escape; every other one is `\u00XX` (lowercase hex).
    public enum ShortEscapes: Sendable {
        /// `\n`, `\r` and `\t`: message plaintexts (schema/FORMAT.md §1.3) and the API's hand-written JSON (the
        /// transcript page). The bytes of new plaintexts and of the page stay what they have always been.
        case newlineReturnTab
        /// `\n` only (`\u0009`, `\u000d`): export and checkpoint-file lines, whose bytes FORMAT.md §6.6 spells out
        /// (`audit-checkpoints.log` is stored data).
        case newlineOnly
    }

    /// Whether any byte is a quote, a backslash or a control character (below 0x20): what a JSON string must
    /// escape. Eight bytes at a time: a word has such a byte exactly when one of the three classic tests below sees
    /// a zero (or a byte below 0x20) in it; bytes of 0x80 and above never trip them. The tail goes byte by byte.
    public static func needsEscaping(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// Some byte of `w` is below `n` (n ≤ 128).
        func hasLess(_ w: UInt64, _ n: UInt64) -> Bool { (w &- ones &* n) & ~w & highs != 0 }
        var i = 0
        while i + 8 <= bytes.count {
            let w = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if hasLess(w, 0x20) || hasLess(w ^ (ones &* 0x22), 1) || hasLess(w ^ (ones &* 0x5C), 1) { return true }
            i += 8
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x5C || b == 0x22 || b < 0x20 { return true }
            i += 1
        }
        return false
    }

    /// Appends `s` as a JSON string, quotes included, with `shortEscapes` deciding how tab and carriage return are
    /// written.
    public static func append(_ s: String, to out: inout [UInt8], shortEscapes: ShortEscapes) {
        out.append(UInt8(ascii: "\""))
        // Fast path: nothing to escape, copy the UTF-8 in one go (native strings are contiguous UTF-8).
        let copied: Bool? = s.utf8.withContiguousStorageIfAvailable { utf8 in
            if needsEscaping(UnsafeRawBufferPointer(utf8)) { return false }
            out.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        let short = shortEscapes == .newlineReturnTab
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), b]
            case 0x0a: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0d where short: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09 where short: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                out += [Hex.digit(b >> 4), Hex.digit(b)]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
