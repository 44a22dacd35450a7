import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The staff console under `/console/`: server-rendered pages over the same Core calls the API makes, so every
/// action is authorized and recorded identically. Sessions are the API's (the cookie holds the same kind of token).
///
/// Adding a page (see `QueueController`): a controller struct holding `console`, with `addRoutes(to:)` called from
/// `addRoutes` below. A GET handler starts with `console.auth.user(request)`; a POST handler reads
/// `Form.read(request, limit: console.maxBodyBytes)` then `console.auth.userChecked(request, form:)` (CSRF), calls
/// the Core function the API calls, and redirects (303). Render with `console.pages.render("template", values,
/// lang: Lang.of(request), signed:, idleSeconds:)`; the template is `Resources/templates/NAME.mustache`, a child of
/// `layout` (`{{<layout}}{{$title}}…{{/title}}{{$main}}…{{/main}}{{/layout}}`), showing strings only as `{{t.key}}`
/// (keys in both `Resources/i18n/ja.json` and `en.json`, or the console refuses to start) and data only as
/// `{{name}}` (escaped). Forms carry `<input type="hidden" name="csrf" value="{{csrf}}">`. Errors are thrown
/// (`ConsoleError`, `VaultError`): `ConsoleMiddleware` answers them as HTML pages with the security headers.
public struct Console: Sendable {
    let vault: Vault
    let pages: Pages
    let assets: Assets
    let auth: ConsoleAuth
    let maxBodyBytes: Int

    /// Loads the templates, catalogues and static files from the package resources.
    /// - Throws: a template parse error or a missing resource (a packaging bug).
    public init(vault: Vault, configuration: ServeConfiguration) throws {
        self.vault = vault
        self.pages = try Pages()
        self.assets = try Assets()
        self.auth = ConsoleAuth(vault: vault, clientAddresses: configuration.clientAddresses)
        self.maxBodyBytes = configuration.maxBodyBytes
    }

    /// Adds the console's middleware (security headers, HTML errors) and routes; call after the API's routes.
    public func addRoutes(to router: Router<VaultRequestContext>) {
        router.add(middleware: ConsoleMiddleware(pages: pages, auth: auth))
        router.get("/console", use: home)
        router.get("/console/static/:file", use: assets.serve)
        SignInController(console: self).addRoutes(to: router)
        QueueController(console: self).addRoutes(to: router)
        CaseActionsController(console: self).addRoutes(to: router)
        CasePageController(console: self).addRoutes(to: router)
        EventsController(console: self).addRoutes(to: router)
        DashboardController(console: self).addRoutes(to: router)
        MembersController(console: self).addRoutes(to: router)
        AuditLogController(console: self).addRoutes(to: router)
        AuditReviewController(console: self).addRoutes(to: router)
        AdminPageController(console: self).addRoutes(to: router)
    }

    /// `/console/`: the role's home.
    @Sendable func home(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await auth.user(request)
        return .redirect(to: try await homePath(signed.user), type: .normal)
    }

    /// Counselors and supervisors: their first desk's queue; auditors the audit log; admins the admin page.
    func homePath(_ user: UnlockedUser) async throws -> String {
        switch user.role {
        case .auditor: return "/console/audit"
        case .admin: return "/console/admin"
        case .counselor, .supervisor:
            guard let desk = try await vault.memberDeskNames(user).first else { return "/console/account" }
            return "/console/desks/\(Paths.segment(desk))/queue"
        }
    }
}

/// Path segments and query values as they go into links.
enum Paths {
    /// Desk names are restricted to a safe alphabet by Core; percent-encode anything else anyway.
    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? ""
    }
}
