import Mustache

/// The console's escaping for every `{{…}}` value: `< > & " '` replaced byte by byte in the UTF-8 text.
///
/// swift-mustache's own HTML escaping compares whole Characters, so a quote followed by a combining mark (`"` +
/// U+0338 is one Character) passed through unescaped and could end an attribute value. Working on UTF-8 bytes
/// escapes every one of the five characters wherever it stands (none of them occurs inside a multi-byte
/// sequence), and text without them — almost all of it — is returned as it is, without a copy.
struct ConsoleHTML: MustacheContentType {
    static let name = "CONSOLE_HTML"
    /// Put before every template's text, so each renders with this escaping (partials and the layout too).
    static let pragma = "{{% CONTENT_TYPE: \(name)}}"

    static func register() { MustacheContentTypes.register(ConsoleHTML(), named: name) }

    func escapeText(_ text: String) -> String { Self.escape(text) }

    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x3C || $0 == 0x3E || $0 == 0x26 || $0 == 0x22 || $0 == 0x27 })
        else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 32)
        for byte in text.utf8 {
            switch byte {
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x22: out.append(contentsOf: "&quot;".utf8)
            case 0x27: out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
