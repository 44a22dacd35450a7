import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport
import VaultWeb

/// A console answer: status, headers, the HTML (or other) body as text.
struct Page {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var location: String? { headers[.location] }
    var setCookies: [String] { headers[values: .setCookie] }

    /// The value of the first `<input … name="NAME" value="…">`-style hidden field (the CSRF token).
    var csrf: String? {
        guard let r = text.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(text[r.upperBound...].prefix { $0 != "\"" })
    }
}

/// The app serve builds: API routes plus the console.
func makeConsoleApp(_ f: Fixture, configuration: ServeConfiguration = ServeConfiguration()) throws
    -> some ApplicationProtocol
{
    let console = try Console(vault: f.vault, configuration: configuration)
    return Application(
        router: buildRouter(vault: f.vault, configuration: configuration, extraRoutes: console.addRoutes))
}

extension TestClientProtocol {
    func page(
        _ method: HTTPRequest.Method, _ uri: String, cookie: String? = nil, form: [(String, String)]? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Page {
        var headers = extra
        if let cookie { headers[.cookie] = cookie }
        var body: ByteBuffer?
        if let form {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.~"))
            body = ByteBuffer(
                string: form.map {
                    "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
                }.joined(separator: "&"))
            headers[.contentType] = "application/x-www-form-urlencoded"
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { r in
            Page(status: r.status, headers: r.headers, text: String(buffer: r.body))
        }
    }

    /// Logs in through the form; returns the `Cookie` header value carrying the session.
    func login(_ f: Fixture, _ user: String) async throws -> String {
        let r = try await page(
            .post, "/console/login", form: [("username", user), ("passphrase", f.passphrases[user]!)])
        #expect(r.status == .seeOther)
        let set = try #require(r.setCookies.first { $0.hasPrefix("cv_session=") })
        return String(set.prefix { $0 != ";" })
    }
}

/// The security headers every console response must carry.
func expectSecurityHeaders(_ p: Page, sourceLocation: SourceLocation = #_sourceLocation) {
    let csp = p.headers[.contentSecurityPolicy] ?? ""
    #expect(csp.contains("default-src 'self'"), sourceLocation: sourceLocation)
    #expect(csp.contains("frame-ancestors 'none'"), sourceLocation: sourceLocation)
    #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), sourceLocation: sourceLocation)
    #expect(p.headers[.xContentTypeOptions] == "nosniff", sourceLocation: sourceLocation)
    #expect(p.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", sourceLocation: sourceLocation)
    #expect(p.headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
}
