import Foundation
import Hummingbird
import Mustache
import NIOCore
import VaultCore

/// The templates (`Resources/templates/*.mustache`, each page a child of `layout`) and the catalogues. Every
/// value is inserted with `{{…}}`, which HTML-escapes `< > & " '`; no template uses triple braces or `{{&…}}`.
struct Pages: Sendable {
    let library: MustacheLibrary
    let catalogue: Catalogue

    /// - Throws: a missing resource or a template that does not parse.
    init() throws {
        guard let base = Bundle.module.resourceURL else { throw ResourceError(name: "resources") }
        var library = MustacheLibrary()
        let templates = base.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templates.path)
        where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        self.library = library
        self.catalogue = try Catalogue(directory: base.appendingPathComponent("i18n"))
    }

    struct ResourceError: Error, CustomStringConvertible {
        let name: String
        var description: String { "console resource missing: \(name)" }
    }

    /// Renders `template` with the layout's common values (language, strings, the user, the CSRF token).
    func render(
        _ template: String, _ values: [String: Any], lang: Lang, signed: SignedIn?, idleSeconds: Int64? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        // Mustache renders an optional held in `Any` as "nil"; an absent value is a missing key instead.
        var context = values.filter { !Self.isNil($0.value) }
        context["lang"] = lang.rawValue
        context["t"] = catalogue[lang]
        context["other_lang"] = lang == .ja ? "en" : "ja"
        context["other_lang_name"] = catalogue.text(lang == .ja ? "lang_en" : "lang_ja", lang)
        if let signed {
            context["signed_in"] = true
            context["username"] = signed.user.username
            context["role_name"] = catalogue.text("role_\(signed.user.role.rawValue)", lang)
            context["csrf"] = signed.csrf
            if let idleSeconds { context["idle_seconds"] = String(idleSeconds) }
        }
        let html = library.render(context, withTemplate: template) ?? ""
        var response = Response(status: status, headers: [.contentType: "text/html; charset=utf-8"])
        response.body = ResponseBody(byteBuffer: ByteBuffer(string: html))
        return response
    }

    static func isNil(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }

    /// The error page for a status, with a catalogue message.
    func error(_ status: HTTPResponse.Status, key: String, lang: Lang) -> Response {
        render(
            "error", ["title": catalogue.text("error_title", lang), "message": catalogue.text(key, lang)], lang: lang,
            signed: nil, status: status)
    }
}

/// Times as the console shows them: in the desk's time zone (Asia/Tokyo unless the desk says otherwise).
enum Times {
    static func format(_ milliseconds: Int64, timeZone: TimeZone) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let c = Calendar(identifier: .gregorian).dateComponents(in: timeZone, from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    static let tokyo = TimeZone(identifier: "Asia/Tokyo")!
}
