import Foundation
import HTTPTypes
import Hummingbird
import VaultCore
import VaultHTTP

/// Login, logout, enrollment and the account page (passphrase change): the API's Core calls (`unlock`, `enroll`,
/// `changePassphrase`) with the API's throttle; the session token goes into an HttpOnly cookie.
struct SignInController {
    let console: Console

    var vault: Vault { console.vault }
    var pages: Pages { console.pages }
    var auth: ConsoleAuth { console.auth }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/login", use: loginPage)
        router.post("/console/login", use: login)
        router.post("/console/logout", use: logout)
        router.get("/console/enroll", use: enrollPage)
        router.post("/console/enroll", use: enroll)
        router.get("/console/account", use: account)
        router.post("/console/account/passphrase", use: changePassphrase)
    }

    /// A cross-site form post (a login CSRF attempt) is refused: the browser says where the request came from.
    static func refuseCrossSite(_ request: Request) throws {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site == "cross-site" {
            throw ConsoleError.csrf
        }
    }

    @Sendable func loginPage(_ request: Request, context: VaultRequestContext) async throws -> Response {
        pages.render("login", [:], lang: Lang.of(request), signed: nil)
    }

    @Sendable func login(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try Self.refuseCrossSite(request)
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let lang = Lang.of(request)
        let username = form["username"] ?? ""
        let passphrase = form["passphrase"] ?? ""
        func again(_ status: HTTPResponse.Status, _ key: String) -> Response {
            // The username is shown again; the passphrase never is.
            pages.render(
                "login", ["username_value": username, "error": pages.catalogue.text(key, lang)], lang: lang,
                signed: nil, status: status)
        }
        guard !username.isEmpty, username.utf8.count <= 64, !passphrase.isEmpty, passphrase.utf8.count <= 1024 else {
            return again(.unauthorized, "login_failed")
        }
        let grant: SessionGrant
        do {
            grant = try await vault.unlock(
                username: username, passphrase: passphrase, address: auth.clientAddress(request, context),
                requestID: context.requestID)
        } catch let e as VaultError where e.code == .unauthenticated {
            return again(.unauthorized, "login_failed")
        } catch let e as VaultError where e.code == .rateLimited {
            var response = again(.tooManyRequests, "login_throttled")
            if let retry = e.retryAfter { response.headers[.retryAfter] = String(retry) }
            return response
        }
        guard let user = try await vault.authenticateSession(grant.token) else { throw ConsoleError.signIn }
        var response = Response.redirect(to: try await console.homePath(user), type: .normal)
        response.headers.append(
            HTTPField(
                name: .setCookie,
                value: ConsoleAuth.cookie(
                    ConsoleAuth.cookieName, grant.token, maxAge: nil, secure: auth.isHTTPS(request, context))))
        return response
    }

    @Sendable func logout(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await auth.userChecked(request, form: form)
        vault.sessions.end(signed.token)
        var response = Response.redirect(to: "/console/login", type: .normal)
        response.headers.append(
            HTTPField(
                name: .setCookie,
                value: ConsoleAuth.cookie(
                    ConsoleAuth.cookieName, "", maxAge: 0, secure: auth.isHTTPS(request, context))))
        return response
    }

    @Sendable func enrollPage(_ request: Request, context: VaultRequestContext) async throws -> Response {
        pages.render("enroll", [:], lang: Lang.of(request), signed: nil)
    }

    @Sendable func enroll(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try Self.refuseCrossSite(request)
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let lang = Lang.of(request)
        let username = form["username"] ?? ""
        let code = form["code"] ?? ""
        let passphrase = form["passphrase"] ?? ""
        func again(_ status: HTTPResponse.Status, _ key: String) -> Response {
            pages.render(
                "enroll", ["username_value": username, "error": pages.catalogue.text(key, lang)], lang: lang,
                signed: nil, status: status)
        }
        guard !username.isEmpty, username.utf8.count <= 64, !code.isEmpty, code.utf8.count <= 64 else {
            return again(.badRequest, "enroll_missing")
        }
        guard passphrase == form["passphrase_confirm"] else { return again(.badRequest, "enroll_mismatch") }
        let fingerprint: String
        do {
            fingerprint = try await vault.enroll(
                username: username, code: code, passphrase: passphrase, address: auth.clientAddress(request, context),
                requestID: context.requestID)
        } catch let e as VaultError where e.code == .unauthenticated {
            return again(.unauthorized, "enroll_bad_code")
        } catch let e as VaultError where e.code == .rateLimited {
            return again(.tooManyRequests, "login_throttled")
        } catch let e as VaultError where e.code == .invalidRequest {
            return again(.badRequest, "enroll_weak")
        }
        return pages.render(
            "enrolled", ["fingerprint": fingerprint, "username_value": username], lang: lang, signed: nil,
            status: .created)
    }

    @Sendable func account(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await auth.user(request)
        let lang = Lang.of(request)
        let changed = request.uri.queryParameters.get("changed") == "1"
        return pages.render(
            "account", ["changed": changed, "desks": try await deskLinks(signed.user)], lang: lang, signed: signed,
            idleSeconds: vault.sessions.idleSeconds)
    }

    @Sendable func changePassphrase(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await auth.userChecked(request, form: form)
        let lang = Lang.of(request)
        let new = form["new_passphrase"] ?? ""
        func again(_ status: HTTPResponse.Status, _ key: String) async throws -> Response {
            pages.render(
                "account", ["error": pages.catalogue.text(key, lang), "desks": try await deskLinks(signed.user)],
                lang: lang, signed: signed, idleSeconds: vault.sessions.idleSeconds, status: status)
        }
        guard new == form["new_passphrase_confirm"] else { return try await again(.badRequest, "enroll_mismatch") }
        do {
            try await vault.changePassphrase(
                signed.user, current: form["passphrase"] ?? "", new: new, address: auth.clientAddress(request, context),
                requestID: context.requestID)
        } catch let e as VaultError where e.code == .unauthenticated {
            return try await again(.unauthorized, "passphrase_wrong")
        } catch let e as VaultError where e.code == .rateLimited {
            return try await again(.tooManyRequests, "login_throttled")
        } catch let e as VaultError where e.code == .invalidRequest {
            return try await again(.badRequest, "enroll_weak")
        }
        return .redirect(to: "/console/account?changed=1", type: .normal)
    }

    func deskLinks(_ user: UnlockedUser) async throws -> [[String: String]] {
        guard user.role == .counselor || user.role == .supervisor else { return [] }
        return try await vault.memberDeskNames(user).map {
            ["name": $0, "href": "/console/desks/\(Paths.segment($0))/queue"]
        }
    }
}
