import Testing

@testable import VaultCore

/// The one escaper writes the two formats' bytes: they agree except on tab and carriage return.
@Suite struct JSONStringTests {
    static let sample = "a\"b\\c\nd\re\tf\u{1}\u{1F}\u{7F}é😢"

    static func escaped(_ s: String, _ shortEscapes: JSONString.ShortEscapes) -> String {
        var out: [UInt8] = []
        JSONString.append(s, to: &out, shortEscapes: shortEscapes)
        return String(decoding: out, as: UTF8.self)
    }

    @Test("plaintexts and the API write \\n, \\r and \\t; other control characters as \\u00XX")
    func newlineReturnTab() {
        #expect(Self.escaped(Self.sample, .newlineReturnTab) == #""a\"b\\c\nd\re\tf\u0001\u001f\#u{7F}é😢""#)
        #expect(Self.escaped("nothing to escape あ", .newlineReturnTab) == #""nothing to escape あ""#)
    }

    @Test("export and checkpoint-file lines write only \\n short, tab and carriage return as \\u00XX (FORMAT.md §6.6)")
    func newlineOnly() {
        #expect(Self.escaped(Self.sample, .newlineOnly) == #""a\"b\\c\nd\u000de\u0009f\u0001\u001f\#u{7F}é😢""#)
        #expect(Self.escaped("nothing to escape あ", .newlineOnly) == #""nothing to escape あ""#)
    }

    @Test("an export line writes a tab in a field as \\u0009")
    func exportLine() {
        var j = JSONLine()
        j.string("request_id", "r\t1")
        #expect(String(decoding: j.finish(), as: UTF8.self) == "{\"request_id\":\"r\\u00091\"}\n")
    }
}
