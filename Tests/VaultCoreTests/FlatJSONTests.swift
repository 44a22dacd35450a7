import Testing

@testable import VaultCore

@Suite struct FlatJSONTests {
    static func parse(_ s: String) throws -> [String: FlatJSON.Value] { try parse(bytes: Array(s.utf8)) }

    static func parse(bytes: [UInt8]) throws -> [String: FlatJSON.Value] {
        var fields: [FlatJSON.Field] = []
        return try bytes.withUnsafeBufferPointer { p in
            try FlatJSON.parse(p, into: &fields)
            var out: [String: FlatJSON.Value] = [:]
            for f in fields {
                let key = String(decoding: p[f.key], as: UTF8.self)
                if let b = FlatJSON.bytes(f.value, in: p) {
                    out[key] = .escaped(b)
                } else {
                    out[key] = f.value
                }
            }
            return out
        }
    }

    @Test("strings with escapes, surrogate pairs and raw UTF-8; integers; null")
    func accepts() throws {
        let o = try Self.parse(#" { "a" : "x\"\\\/\n\u00e9\ud83d\ude00い", "n": -42, "z": null, "e": "" } "#)
        #expect(o["a"] == .escaped(Array("x\"\\/\né😀い".utf8)))
        #expect(o["n"] == .int(-42))
        #expect(o["z"] == .null)
        #expect(o["e"] == .escaped([]))
        #expect(try Self.parse("{}").isEmpty)
    }

    @Test("refuses what the export never contains: floats, duplicates, trailing bytes, lone surrogates, raw controls")
    func refuses() {
        for bad in [
            #"{"a":1.5}"#, #"{"a":1,"a":2}"#, #"{"a":1} x"#, #"{"a":"\ud800"}"#, "{\"a\":\"\u{01}\"}", #"{"a":01}"#,
            #"{"a":true}"#, #"{"a":"x"#, #"["a"]"#, #"{"a":99999999999999999999}"#,
        ] {
            #expect(throws: FlatJSON.Malformed.self, "\(bad)") { _ = try Self.parse(bad) }
        }
        let invalidUTF8: [UInt8] = Array(#"{"a":""#.utf8) + [0xff] + Array(#""}"#.utf8)
        #expect(throws: FlatJSON.Malformed.self) { _ = try Self.parse(bytes: invalidUTF8) }
    }
}
