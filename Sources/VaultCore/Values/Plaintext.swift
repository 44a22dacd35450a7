/// Message plaintexts (schema/FORMAT.md §1.3): compact UTF-8 JSON objects with keys sorted by their
/// UTF-8 bytes, built directly (no Foundation round trip on the ingest hot path).
enum Plaintext {
    enum Value: Sendable {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
    }

    /// `{"text": …}` for kind `text`.
    static func text(_ text: String) -> [UInt8] { object([("text", .string(text))]) }

    /// A JSON object with the given members, keys sorted by their UTF-8 bytes.
    static func object(_ members: [(String, Value)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(
            64 + members.reduce(0) { n, m in if case .string(let s) = m.1 { n + s.utf8.count } else { n } })
        for (i, (key, value)) in members.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) })
            .enumerated()
        {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let s): appendString(s, to: &out)
            case .int(let v): out += Array(String(v).utf8)
            case .double(let v): out += Array((v.isFinite ? "\(v)" : "null").utf8)
            case .bool(let v): out += Array((v ? "true" : "false").utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON string (see `JSONString.append`).
    static func appendString(_ s: String, to out: inout [UInt8]) { JSONString.append(s, to: &out) }
}

/// The one JSON string escaper (plaintexts in Core, the transcript page in HTTP): `"` and `\` escaped, control
/// characters as \n, \r, \t or \u00XX (RFC 8259 §7); everything else written as UTF-8.
public enum JSONString {
    private static let hex = Array("0123456789abcdef".utf8)

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

    public static func append(_ s: String, to out: inout [UInt8]) {
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
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0a: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0d: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += [hex[Int(b >> 4)], hex[Int(b & 0x0f)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
