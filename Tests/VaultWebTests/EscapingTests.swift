import Foundation
import Mustache
import Testing

@testable import VaultWeb

/// Every `{{…}}` value on every console page is escaped byte by byte, including a quote or angle bracket that a
/// combining mark turns into one Character with it (which swift-mustache's own escaping let through).
@Suite struct EscapingTests {
    static let hostile = "\"\u{0338} autofocus onfocus=alert(1) x=\"\u{0338}><img src=x onerror=alert(2)>'&"

    @Test("the five characters are replaced wherever they stand; other text comes back unchanged")
    func escape() {
        #expect(ConsoleHTML.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        // (Strings with combining marks are built outside #expect: the macro re-parses its source text.)
        let quote = "\"\u{0338}"
        let quoteEscaped = "&quot;\u{0338}"
        let angle = "<\u{0301}script>"
        let angleEscaped = "&lt;\u{0301}script&gt;"
        #expect(ConsoleHTML.escape(quote) == quoteEscaped)
        #expect(ConsoleHTML.escape(angle) == angleEscaped)
        #expect(ConsoleHTML.escape("いじめの相談です 👩‍👧") == "いじめの相談です 👩‍👧")
        #expect(ConsoleHTML.escape("") == "")
        // What the library alone does with the combined quote (why the console has its own escaping).
        #expect(quote.count == 1)
    }

    @Test("a page attribute and a transcript message with combining marks render inert")
    func pagesUseIt() throws {
        let pages = try Pages()
        let login = try #require(
            pages.library.render(
                ["username_value": Self.hostile, "t": pages.catalogue[.ja], "lang": "ja"] as [String: Any],
                withTemplate: "login"))
        let raw = "\"\u{0338} autofocus"
        let escaped = "&quot;\u{0338} autofocus onfocus=alert(1) x=&quot;\u{0338}&gt;&lt;img"
        #expect(!login.contains(raw))
        #expect(login.contains(escaped))
        let message: [String: Any] = [
            "id": "01a25294-0a4e-766b-a211-8b2566795122", "seq": "1", "direction": "inbound",
            "direction_name": "相談者", "author": "channel", "time": "2026-12-07 21:04", "text": Self.hostile,
            "is_image": false, "retracted": false, "media": false, "delivery": false,
        ]
        let html = try #require(
            pages.library.render(
                ["messages": [message], "t": pages.catalogue[.ja]] as [String: Any], withTemplate: "messages"))
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;img src=x onerror=alert(2)&gt;&#39;&amp;"))
    }
}
