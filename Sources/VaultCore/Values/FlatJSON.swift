import VaultCrypto

/// A strict parser for one flat JSON object (values: strings, integers, null) as found on export and
/// checkpoint-file lines. Hand-written because the verifier must run at ≥ 500,000 lines/s, several times
/// what Foundation's JSONDecoder manages; anything it does not understand is an error, never a guess.
/// The relay's hot path uses it too (`strings(in:)`), with JSONDecoder behind it for everything else.
package struct FlatJSON {
    enum Value: Equatable {
        /// A string without escapes: its bytes are this range of the input.
        case span(Range<Int>)
        /// A string with escapes, unescaped.
        case escaped([UInt8])
        case int(Int64)
        case null
    }

    struct Field {
        /// The key's bytes in the input (keys with escapes are refused).
        let key: Range<Int>
        let value: Value
    }

    struct Malformed: Error { let why: String }

    private let p: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

    /// Parses `{"k": v, …}` into `out` (cleared first), without copying unescaped strings.
    static func parse(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Field]) throws {
        out.removeAll(keepingCapacity: true)
        var parser = FlatJSON(p)
        try parser.object(into: &out)
    }

    private mutating func object(into out: inout [Field]) throws {
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if i < p.count, p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard case .span(let k) = try string() else { throw Malformed(why: "escaped key") }
                try expect(UInt8(ascii: ":"))
                let v = try value()
                for f in out where f.key.count == k.count && p[f.key].elementsEqual(p[k]) {
                    throw Malformed(why: "duplicate key")
                }
                out.append(Field(key: k, value: v))
                skipSpace()
                guard i < p.count else { throw Malformed(why: "unterminated object") }
                if p[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard p[i] == UInt8(ascii: "}") else { throw Malformed(why: "expected `,` or `}`") }
                i += 1
                break
            }
        }
        skipSpace()
        guard i == p.count else { throw Malformed(why: "trailing bytes after the object") }
    }

    @inline(__always) private mutating func skipSpace() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0d { i += 1 }
    }

    @inline(__always) private mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard i < p.count, p[i] == c else { throw Malformed(why: "expected `\(Character(UnicodeScalar(c)))`") }
        i += 1
    }

    private mutating func string() throws -> Value {
        try expect(UInt8(ascii: "\""))
        let start = i
        var high: UInt8 = 0
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") || c == 0x5c || c < 0x20 { break }
            high |= c
            i += 1
        }
        guard i < p.count else { throw Malformed(why: "unterminated string") }
        if p[i] == UInt8(ascii: "\"") {
            let span = UnsafeBufferPointer(rebasing: p[start..<i])
            if high >= 0x80, String(validating: span, as: UTF8.self) == nil { throw Malformed(why: "invalid UTF-8") }
            i += 1
            return .span(start..<i - 1)
        }
        var s = Array(UnsafeBufferPointer(rebasing: p[start..<i]))
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                guard String(validating: s, as: UTF8.self) != nil else { throw Malformed(why: "invalid UTF-8") }
                return .escaped(s)
            }
            guard c >= 0x20 else { throw Malformed(why: "raw control character in a string") }
            if c != 0x5c {
                s.append(c)
                i += 1
                continue
            }
            guard i + 1 < p.count else { throw Malformed(why: "unterminated escape") }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), 0x5c, UInt8(ascii: "/"): s.append(e)
            case UInt8(ascii: "b"): s.append(0x08)
            case UInt8(ascii: "f"): s.append(0x0c)
            case UInt8(ascii: "n"): s.append(0x0a)
            case UInt8(ascii: "r"): s.append(0x0d)
            case UInt8(ascii: "t"): s.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xd800..<0xdc00).contains(scalar) {
                    guard i + 1 < p.count, p[i] == 0x5c, p[i + 1] == UInt8(ascii: "u") else {
                        throw Malformed(why: "lone surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xdc00..<0xe000).contains(low) else { throw Malformed(why: "bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw Malformed(why: "invalid \\u escape") }
                s.append(contentsOf: String(Character(u)).utf8)
            default: throw Malformed(why: "unknown escape")
            }
        }
        throw Malformed(why: "unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= p.count else { throw Malformed(why: "short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Hex.value(of: p[i], .anyCase) else { throw Malformed(why: "bad hex digit in \\u escape") }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func value() throws -> Value {
        skipSpace()
        guard i < p.count else { throw Malformed(why: "missing value") }
        switch p[i] {
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "n"):
            guard i + 4 <= p.count, p[i + 1] == UInt8(ascii: "u"), p[i + 2] == UInt8(ascii: "l"),
                p[i + 3] == UInt8(ascii: "l")
            else { throw Malformed(why: "bad literal") }
            i += 4
            return .null
        case UInt8(ascii: "-"), 48...57:
            let negative = p[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            let start = i
            var v: Int64 = 0
            while i < p.count, p[i] >= 48, p[i] <= 57 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(p[i] - 48))
                guard !o1, !o2 else { throw Malformed(why: "integer out of range") }
                v = a
                i += 1
            }
            guard i > start, i - start == 1 || p[start] != 48 else { throw Malformed(why: "bad integer") }
            if i < p.count, p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
                throw Malformed(why: "only integers are allowed")
            }
            return .int(negative ? -v : v)
        default: throw Malformed(why: "unsupported value type")
        }
    }

    /// The bytes of a string value.
    static func bytes(_ v: Value, in p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        switch v {
        case .span(let r): return Array(UnsafeBufferPointer(rebasing: p[r]))
        case .escaped(let b): return b
        default: return nil
        }
    }

    /// Appends the bytes of a string value to `out` without an intermediate copy; false for a non-string.
    @inline(__always)
    static func append(_ v: Value, in p: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        switch v {
        case .span(let r):
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[r]))
            return true
        case .escaped(let b):
            out.append(contentsOf: b)
            return true
        default: return false
        }
    }

    /// The length in bytes of a string value (nil for a non-string).
    @inline(__always)
    static func length(_ v: Value) -> Int? {
        switch v {
        case .span(let r): return r.count
        case .escaped(let b): return b.count
        default: return nil
        }
    }

    /// The members of a flat JSON object whose values are all strings, or nil when `bytes` is anything else
    /// (malformed, a duplicate key, a number, null, a nested value, whitespace other than space, tab and CR):
    /// the caller then decodes with JSONDecoder, which also gives the error message.
    package static func strings(in bytes: [UInt8]) -> [String: String]? {
        bytes.withUnsafeBufferPointer { p -> [String: String]? in
            var fields: [Field] = []
            guard (try? parse(p, into: &fields)) != nil else { return nil }
            var out: [String: String] = [:]
            out.reserveCapacity(fields.count)
            for f in fields {
                let value: String
                switch f.value {
                case .span(let r): value = String(decoding: UnsafeBufferPointer(rebasing: p[r]), as: UTF8.self)
                case .escaped(let b): value = String(decoding: b, as: UTF8.self)
                case .int, .null: return nil
                }
                out[String(decoding: UnsafeBufferPointer(rebasing: p[f.key]), as: UTF8.self)] = value
            }
            return out
        }
    }

    /// True when the key of `f` is `name`.
    @inline(__always)
    static func key(_ f: Field, is name: StaticString, in p: UnsafeBufferPointer<UInt8>) -> Bool {
        name.withUTF8Buffer { n in n.count == f.key.count && p[f.key].elementsEqual(n) }
    }
}
