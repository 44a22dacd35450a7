import Foundation
import Hummingbird

/// The console's languages: Japanese by default, English by choice.
enum Lang: String, Sendable, CaseIterable {
    case ja, en

    /// `?lang=` first, then the language cookie, then the first language of `Accept-Language`; Japanese otherwise.
    static func of(_ request: Request) -> Lang {
        if let chosen = chosen(request) { return chosen }
        if let cookie = request.cookies[ConsoleAuth.languageCookie]?.value, let lang = Lang(rawValue: cookie) {
            return lang
        }
        if let accept = request.headers[.acceptLanguage],
            let first = accept.split(separator: ",").first?.split(separator: ";").first
        {
            let tag = first.trimmingCharacters(in: .whitespaces).lowercased()
            if tag == "en" || tag.hasPrefix("en-") { return .en }
        }
        return .ja
    }

    /// The language chosen by `?lang=` on this request (which also sets the cookie), if any.
    static func chosen(_ request: Request) -> Lang? {
        request.uri.queryParameters.get("lang").flatMap(Lang.init(rawValue:))
    }
}

/// Every string the console shows, per language, from `Resources/i18n/{lang}.json` (flat key → text). Templates
/// show only `{{t.key}}` strings and data; none is written into a template.
struct Catalogue: Sendable {
    let strings: [Lang: [String: String]]

    /// - Throws: when a catalogue is missing or not a flat JSON object of strings, or when the languages' keys differ.
    init(directory: URL) throws {
        var strings: [Lang: [String: String]] = [:]
        for lang in Lang.allCases {
            let data = try Data(contentsOf: directory.appendingPathComponent("\(lang.rawValue).json"))
            strings[lang] = try JSONDecoder().decode([String: String].self, from: data)
        }
        guard Set(strings[.ja]!.keys) == Set(strings[.en]!.keys) else {
            throw CatalogueError(missing: Set(strings[.ja]!.keys).symmetricDifference(strings[.en]!.keys).sorted())
        }
        self.strings = strings
    }

    struct CatalogueError: Error, CustomStringConvertible {
        let missing: [String]
        var description: String { "catalogue keys differ between languages: \(missing.joined(separator: ", "))" }
    }

    subscript(_ lang: Lang) -> [String: String] { strings[lang] ?? [:] }

    /// One string, or nil when the catalogue has no such key (keys taken from a URL).
    func known(_ key: String, _ lang: Lang) -> String? { strings[lang]?[key] }

    /// One string; the key itself when missing (visible in tests, never a crash).
    func text(_ key: String, _ lang: Lang) -> String { strings[lang]?[key] ?? key }
}
