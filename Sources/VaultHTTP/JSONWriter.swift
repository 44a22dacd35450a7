import VaultCore

/// A minimal JSON writer for the transcript page, the one large response (1,000 messages): Foundation's
/// JSONEncoder spends ~70% of a page's CPU on reflection. Escaping follows RFC 8259 §7 exactly: `"` and `\`
/// escaped, control characters below U+0020 as `\u00XX`, everything else written as UTF-8.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        // Fast path: nothing to escape, copy the UTF-8 in one go.
        var plain = true
        for b in s.utf8 where b == 0x22 || b == 0x5C || b < 0x20 {
            plain = false
            break
        }
        if plain {
            bytes.append(0x22)
            bytes.append(contentsOf: s.utf8)
            bytes.append(0x22)
            return
        }
        bytes.append(0x22)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20: bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0x0F)]])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    mutating func string(_ s: String?) {
        if let s { string(s) } else { raw("null") }
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
