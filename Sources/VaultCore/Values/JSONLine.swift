/// Writes one compact JSON object per line with a fixed key order, for the export and the checkpoint
/// file (FORMAT.md §6.6). Strings go through `JSONString` with the short escapes §6.6 specifies (`\n` only).
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
        JSONString.append(value, to: &bytes, shortEscapes: .newlineOnly)
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
}
