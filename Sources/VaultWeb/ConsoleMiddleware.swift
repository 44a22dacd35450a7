import HTTPTypes
import Hummingbird
import VaultCore
import VaultHTTP

/// Every response under `/console/` — pages, redirects, errors, static files, the event stream — gets the security
/// headers; errors become HTML pages (or redirects to the login page). Other paths pass through untouched.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    static let policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
        + "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        + "frame-ancestors 'none'"

    let pages: Pages
    let auth: ConsoleAuth

    static func isConsole(_ path: String) -> Bool { path == "/console" || path.hasPrefix("/console/") }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard Self.isConsole(request.uri.path) else { return try await next(request, context) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = await errorResponse(error, request: request, context: context)
        }
        if let chosen = Lang.chosen(request) {
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: ConsoleAuth.cookie(
                        ConsoleAuth.languageCookie, chosen.rawValue, maxAge: 31_536_000,
                        secure: auth.isHTTPS(request, context))))
        }
        Self.secure(&response.headers)
        return response
    }

    static func secure(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = policy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
    }

    func errorResponse(_ error: Error, request: Request, context: Context) async -> Response {
        let lang = Lang.of(request)
        switch error {
        case ConsoleError.signIn:
            if request.uri.path == "/console/events" {
                return Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8"])
            }
            return .redirect(to: "/console/login", type: .normal)
        case ConsoleError.csrf: return pages.error(.forbidden, key: "error_csrf", lang: lang)
        case ConsoleError.forbidden: return pages.error(.forbidden, key: "error_forbidden", lang: lang)
        case ConsoleError.notFound: return pages.error(.notFound, key: "error_not_found", lang: lang)
        case ConsoleError.invalid(let key): return pages.error(.badRequest, key: key, lang: lang)
        default:
            let (status, code) = apiErrorStatus(error, context: context)
            let key: String
            switch status {
            case .forbidden: key = "error_forbidden"
            case .notFound:
                // Without a session every console URL leads to the login page, unknown ones included.
                if (try? await auth.user(request)) == nil { return .redirect(to: "/console/login", type: .normal) }
                key = "error_not_found"
            case .badRequest: key = "error_bad_request"
            case .conflict: key = "error_conflict"
            case .tooManyRequests: key = "error_rate_limited"
            case .contentTooLarge: key = "error_too_large"
            case .unauthorized: return .redirect(to: "/console/login", type: .normal)
            default: key = code == "audit_unavailable" ? "error_unavailable" : "error_internal"
            }
            return pages.error(status, key: key, lang: lang)
        }
    }
}
