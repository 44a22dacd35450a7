/// Writes one compact JSON object per line with a fixed key order, for the export and the checkpoint
/// file (FORMAT.md §6.6). Strings are UTF-8; `"`, `\` and control characters are escaped.
struct JSONLine {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    init() { bytes.reserveCapacity(512) }

    private mutating func key(_ k: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    mutating func string(_ k: StaticString, _ value: String) {
        key(k)
        Self.appendString(value, to: &bytes)
    }

    mutating func int(_ k: StaticString, _ value: Int64) {
        key(k)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func null(_ k: StaticString) {
        key(k)
        bytes.append(contentsOf: "null".utf8)
    }

    /// The finished line, `}` and `\n` included.
    mutating func finish() -> [UInt8] {
        bytes.append(contentsOf: [UInt8(ascii: "}"), 0x0a])
        return bytes
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, b])
            case 0x5c: out.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0..<0x20:
                out.append(contentsOf: [0x5c, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
