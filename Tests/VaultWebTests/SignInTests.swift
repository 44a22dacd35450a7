import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct SignInTests {
    @Test("without a session every console URL redirects (303) to the login page, with the security headers")
    func redirectsWithoutSession() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            for path in ["/console/", "/console", "/console/desks/ijime/queue", "/console/account", "/console/nope"] {
                let r = try await client.page(.get, path)
                #expect(r.status == .seeOther, "\(path)")
                #expect(r.location == "/console/login", "\(path)")
                expectSecurityHeaders(r)
            }
            let stale = try await client.page(.get, "/console/desks/ijime/queue", cookie: "cv_session=cvs_forged")
            #expect(stale.status == .seeOther)
            // API routes keep their own JSON answers.
            let api = try await client.page(.get, "/v1/cases")
            #expect(api.status == .unauthorized)
            #expect(api.headers[.contentSecurityPolicy] == nil)
        }
    }

    @Test("login: a wrong passphrase re-renders with 401 and never echoes it; success sets a strict HttpOnly cookie")
    func login() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let form = try await client.page(.get, "/console/login")
            #expect(form.status == .ok)
            #expect(form.text.contains("<html lang=\"ja\""))
            #expect(form.text.contains("name=\"username\"") && form.text.contains("name=\"passphrase\""))
            expectSecurityHeaders(form)
            let bad = try await client.page(
                .post, "/console/login", form: [("username", "cou1"), ("passphrase", "wrong-secret-XYZZY")])
            #expect(bad.status == .unauthorized)
            #expect(!bad.text.contains("wrong-secret-XYZZY"))
            #expect(bad.setCookies.isEmpty)
            expectSecurityHeaders(bad)
            let ok = try await client.page(
                .post, "/console/login", form: [("username", "cou1"), ("passphrase", f.passphrases["cou1"]!)])
            #expect(ok.status == .seeOther)
            #expect(ok.location == "/console/desks/ijime/queue")
            let cookie = try #require(ok.setCookies.first { $0.hasPrefix("cv_session=cvs_") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            #expect(!cookie.contains("Secure"))  // plain HTTP, no trusted proxy
            expectSecurityHeaders(ok)
        }
    }

    @Test("the cookie is Secure behind a trusted proxy that says https, and only then")
    func secureCookie() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        var configuration = ServeConfiguration()
        try configuration.setTrustedProxies(["unix"])  // the router test client has no peer address, like a socket
        try await makeConsoleApp(f, configuration: configuration).test(.router) { client in
            let form = [("username", "cou1"), ("passphrase", f.passphrases["cou1"]!)]
            let https = try await client.page(
                .post, "/console/login", form: form, headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"])
            #expect(https.setCookies.first { $0.hasPrefix("cv_session=") }?.contains("; Secure") == true)
            let plain = try await client.page(.post, "/console/login", form: form)
            #expect(plain.setCookies.first { $0.hasPrefix("cv_session=") }?.contains("Secure") == false)
        }
    }

    @Test("state-changing posts without the session's CSRF token answer 403 and change nothing")
    func csrf() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let message = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou1")
            let none = try await client.page(.post, "/console/cases/\(message.caseID)/assign", cookie: cookie, form: [])
            #expect(none.status == .forbidden)
            expectSecurityHeaders(none)
            let wrong = try await client.page(
                .post, "/console/cases/\(message.caseID)/assign", cookie: cookie, form: [("csrf", "AAAA")])
            #expect(wrong.status == .forbidden)
            let logout = try await client.page(.post, "/console/logout", cookie: cookie, form: [])
            #expect(logout.status == .forbidden)
            // Still unassigned, still signed in.
            let queue = try await client.page(.get, "/console/desks/ijime/queue", cookie: cookie)
            #expect(queue.status == .ok)
            #expect(queue.text.contains("action=\"/console/cases/\(message.caseID)/assign\""))
            // With the token: taken.
            let token = try #require(queue.csrf)
            let take = try await client.page(
                .post, "/console/cases/\(message.caseID)/assign", cookie: cookie, form: [("csrf", token)])
            #expect(take.status == .seeOther)
            #expect(take.location == "/console/cases/\(message.caseID)?done=taken")
            let header = try await client.page(
                .post, "/console/logout", cookie: cookie, form: [], headers: [HTTPField.Name("X-CSRF-Token")!: token])
            #expect(header.status == .seeOther)
            #expect(try await client.page(.get, "/console/account", cookie: cookie).status == .seeOther)
        }
    }

    @Test("?lang=en switches to English and sets the language cookie; Accept-Language en too")
    func language() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let en = try await client.page(.get, "/console/login?lang=en")
            #expect(en.text.contains("<html lang=\"en\""))
            #expect(en.text.contains("Log in"))
            #expect(en.setCookies.contains { $0.hasPrefix("cv_lang=en") })
            let accept = try await client.page(
                .get, "/console/login", headers: [.acceptLanguage: "en-GB,en;q=0.9,ja;q=0.5"])
            #expect(accept.text.contains("<html lang=\"en\""))
            let cookie = try await client.page(.get, "/console/login", cookie: "cv_lang=en")
            #expect(cookie.text.contains("<html lang=\"en\""))
            let ja = try await client.page(.get, "/console/login")
            #expect(ja.text.contains("ログイン"))
        }
    }

    @Test("static files carry the security headers; unknown names are 404")
    func statics() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let js = try await client.page(.get, "/console/static/console.js")
            #expect(js.status == .ok)
            #expect(js.headers[.contentType]?.hasPrefix("text/javascript") == true)
            expectSecurityHeaders(js)
            let css = try await client.page(.get, "/console/static/console.css")
            #expect(css.status == .ok)
            let missing = try await client.page(.get, "/console/static/..%2FPackage.swift")
            #expect(missing.status == .notFound || missing.status == .seeOther)
            expectSecurityHeaders(missing)
        }
    }
}
