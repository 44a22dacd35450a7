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
            JSONString.append(key, to: &out, shortEscapes: .newlineReturnTab)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let s): JSONString.append(s, to: &out, shortEscapes: .newlineReturnTab)
            case .int(let v): out += Array(String(v).utf8)
            case .double(let v): out += Array((v.isFinite ? "\(v)" : "null").utf8)
            case .bool(let v): out += Array((v ? "true" : "false").utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
