import Foundation
import HTTPTypes
import Hummingbird
import VaultCore
import VaultHTTP

/// The admin page (`/console/admin`): users (add → the one-time enrollment code shown once, in the answer to the
/// form post, never in a URL; disable), desks (add, invite a member, retention and the changes waiting for a
/// supervisor's approval) and relay tokens (issue → shown once; revoke). Each action is the Core call the admin
/// API makes, after the same `requireAdmin` check (a denial is recorded). Never any content or key material.
struct AdminPageController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/admin", use: page)
        router.post("/console/admin/users", use: addUser)
        router.post("/console/admin/users/:username/disable", use: disable)
        router.post("/console/admin/desks", use: addDesk)
        router.post("/console/admin/invites", use: invite)
        router.post("/console/admin/retention", use: retention)
        router.post("/console/admin/tokens", use: issueToken)
        router.post("/console/admin/tokens/:name/revoke", use: revokeToken)
    }

    /// The signed-in admin and their caller, or a recorded denial (403).
    func admin(_ request: Request, _ context: VaultRequestContext, form: Form?, _ action: String, _ target: String)
        async throws -> (SignedIn, Caller)
    {
        let signed: SignedIn
        if let form {
            signed = try await console.auth.userChecked(request, form: form)
        } else {
            signed = try await console.auth.user(request)
        }
        let caller = try await console.vault.requireAdmin(signed.user, action, target, requestID: context.requestID)
        return (signed, caller)
    }

    /// A required form field of at most `max` bytes.
    static func field(_ form: Form, _ name: String, max: Int = 64) throws -> String {
        guard let v = form[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty, v.utf8.count <= max else {
            throw ConsoleError.invalid("error_field_\(name)")
        }
        return v
    }

    static func done(_ what: String) -> Response { .redirect(to: "/console/admin?done=\(what)", type: .normal) }

    @Sendable func page(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, _) = try await admin(request, context, form: nil, "admin.read", "admin:users")
        let done = request.uri.queryParameters.get("done")
        return try await render(request, signed: signed, extra: ["notice": done.flatMap { t($0, request) } as Any])
    }

    func t(_ done: String, _ request: Request) -> String? {
        console.pages.catalogue.known("done_\(done)", Lang.of(request))
    }

    /// The page with the listings, plus `extra` (a notice, or a code or token shown once).
    func render(_ request: Request, signed: SignedIn, extra: [String: Any], status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        let users = try await console.vault.listUsers()
        let desks = try await console.vault.listDesks()
        let tokens = try await console.vault.listTokens()
        let pending = try await console.vault.pendingRetentionChanges()
        let pendingByDesk = Dictionary(pending.map { ($0.desk, $0.days) }, uniquingKeysWith: { a, _ in a })
        var values: [String: Any] = [
            "page": "admin",
            "users": users.map { u in
                [
                    "username": u.username, "role_name": t.text("role_\(u.role.rawValue)", lang),
                    "state_name": t.text("user_\(u.state)", lang), "state": u.state,
                    "disableable": u.state != "disabled" && u.username != signed.user.username,
                    "disable_action": "/console/admin/users/\(Paths.segment(u.username))/disable",
                ] as [String: Any]
            },
            "roles": Role.allCases.map { ["value": $0.rawValue, "name": t.text("role_\($0.rawValue)", lang)] },
            "desk_rows": desks.map { d in
                var row: [String: Any] = [
                    "name": d.name, "retention": String(d.retentionDays), "members": String(d.members),
                    "version": String(d.manifestVersion),
                ]
                if let days = pendingByDesk[d.name] { row["pending"] = String(days) }
                return row
            },
            "no_desks": desks.isEmpty,
            "desk_names": desks.map { ["name": $0.name] },
            "pending_changes": pending.map {
                ["desk": $0.desk, "days": String($0.days), "current": String($0.current)] as [String: Any]
            },
            "no_pending": pending.isEmpty,
            "tokens": tokens.map { k in
                [
                    "name": k.name, "desks": k.desks.joined(separator: ", "),
                    "created": Times.format(k.createdAt, timeZone: Times.tokyo), "revoked": k.revoked,
                    "revoke_action": "/console/admin/tokens/\(Paths.segment(k.name))/revoke",
                ] as [String: Any]
            },
            "no_tokens": tokens.isEmpty,
            "min_retention": String(console.vault.minRetentionDays),
        ]
        values.merge(extra) { $1 }
        return console.pages.render(
            "admin", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds,
            status: status)
    }

    /// Adds an account; the answer (not a redirect: the code must never be in a URL) shows the code once.
    @Sendable func addUser(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let (signed, caller) = try await admin(request, context, form: form, "user.add", "admin:users")
        let username = try Self.field(form, "username")
        guard let role = Role(rawValue: form["role"] ?? "") else { throw ConsoleError.invalid("error_field_role") }
        let (code, expires) = try await console.vault.addUser(username: username, role: role, caller: caller)
        return try await render(
            request, signed: signed,
            extra: [
                "issued_code": code, "issued_user": username,
                "issued_expires": Times.format(expires, timeZone: Times.tokyo),
            ], status: .created)
    }

    @Sendable func disable(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        guard let username = context.parameters.get("username"), !username.isEmpty, username.utf8.count <= 64 else {
            throw ConsoleError.notFound
        }
        let (_, caller) = try await admin(request, context, form: form, "user.disable", "user:\(username)")
        try await console.vault.disableUser(username: username, caller: caller)
        return Self.done("disabled")
    }

    @Sendable func addDesk(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let (_, caller) = try await admin(request, context, form: form, "desk.add", "admin:desks")
        let name = try Self.field(form, "name")
        let supervisor = try Self.field(form, "supervisor")
        guard let key = Data(base64Encoded: try Self.field(form, "recovery_key", max: 128)), key.count == 32 else {
            throw ConsoleError.invalid("error_field_recovery_key")
        }
        var days: Int?
        if let raw = form["retention_days"], !raw.isEmpty {
            guard let n = Int(raw), n >= 0 else { throw ConsoleError.invalid("error_field_retention_days") }
            days = n
        }
        try await console.vault.addDesk(
            name: name, supervisor: supervisor, recoveryKey: Array(key), retentionDays: days, caller: caller)
        return Self.done("desk_added")
    }

    @Sendable func invite(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let (_, caller) = try await admin(
            request, context, form: form, "member.invite", "desk:\((form["desk"] ?? "").prefix(64))")
        let desk = try Self.field(form, "desk")
        try await console.vault.invite(desk: desk, username: try Self.field(form, "username"), caller: caller)
        return Self.done("invited")
    }

    /// Sets a desk's retention (`desk set-retention`'s Core call): a lengthening applies, a shortening waits for a
    /// supervisor of the desk.
    @Sendable func retention(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let (_, caller) = try await admin(
            request, context, form: form, "retention.change", "desk:\((form["desk"] ?? "").prefix(64))")
        let desk = try Self.field(form, "desk")
        guard let days = Int(form["days"] ?? ""), days >= 0 else { throw ConsoleError.invalid("error_field_days") }
        let applied = try await console.vault.setRetention(desk: desk, days: days, caller: caller)
        return Self.done(applied ? "retention_applied" : "retention_pending")
    }

    /// Issues a relay token; the answer (not a redirect) shows it once.
    @Sendable func issueToken(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let (signed, caller) = try await admin(request, context, form: form, "token.issue", "admin:tokens")
        let name = try Self.field(form, "name")
        let desks = try Self.field(form, "desks", max: 1024).split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let token = try await console.vault.issueRelayToken(name: name, desks: desks, caller: caller)
        return try await render(
            request, signed: signed, extra: ["issued_token": token, "issued_token_name": name], status: .created)
    }

    @Sendable func revokeToken(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        guard let name = context.parameters.get("name"), !name.isEmpty, name.utf8.count <= 64 else {
            throw ConsoleError.notFound
        }
        let (_, caller) = try await admin(request, context, form: form, "token.revoke", "token:\(name)")
        try await console.vault.revokeRelayToken(name: name, caller: caller)
        return Self.done("revoked")
    }
}
