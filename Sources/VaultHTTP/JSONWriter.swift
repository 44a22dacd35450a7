import VaultCore

/// A minimal JSON writer for the transcript page, the one large response (1,000 messages): Foundation's
/// JSONEncoder spends ~70% of a page's CPU on reflection. Strings go through Core's one escaper, `JSONString`.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) { JSONString.append(s, to: &bytes, shortEscapes: .newlineReturnTab) }

    mutating func string(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    /// A string the caller knows needs no escaping (checked elsewhere): copied between quotes without a scan.
    mutating func unescapedString(_ s: String) {
        bytes.append(0x22)
        bytes.append(contentsOf: s.utf8)
        bytes.append(0x22)
    }

    /// A UUID, written in place.
    mutating func id(_ id: ID) {
        bytes.append(0x22)
        id.appendDescription(to: &bytes)
        bytes.append(0x22)
    }

    mutating func int(_ v: Int) { bytes.append(contentsOf: String(v).utf8) }

    mutating func bool(_ v: Bool) { v ? raw("true") : raw("false") }

    /// `"key":` — keys are ASCII literals.
    mutating func key(_ k: StaticString) {
        bytes.append(0x22)
        raw(k)
        raw("\":")
    }

    mutating func object(_ dict: [String: JSONValue]?) {
        guard let dict else { return raw("null") }
        raw("{")
        for (i, (k, v)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { raw(",") }
            string(k)
            raw(":")
            value(v)
        }
        raw("}")
    }

    mutating func value(_ v: JSONValue) {
        switch v {
        case .string(let s): string(s)
        case .int(let i): bytes.append(contentsOf: String(i).utf8)
        case .double(let d):
            // JSON has no NaN or infinity; such a value cannot come from a parsed document.
            d.isFinite ? bytes.append(contentsOf: "\(d)".utf8) : raw("null")
        case .bool(let b): bool(b)
        case .null: raw("null")
        }
    }
}
