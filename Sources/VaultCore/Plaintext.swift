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

    public static func append(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Fast path: nothing to escape, copy the UTF-8 in one go (native strings are contiguous UTF-8).
        let copied: Bool? = s.utf8.withContiguousStorageIfAvailable { utf8 in
            for b in utf8 where b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { return false }
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
