import Foundation
import HTTPTypes
import Hummingbird
import VaultCore
import VaultHTTP

/// A desk's members for its supervisors (`/console/desks/{desk}/members`): who is invited and who confirmed. An
/// invited member is confirmed by typing the fingerprint they read out (`desk confirm`; the Core call of
/// `POST /v1/desks/{desk}/members/{username}/confirm`): the page never shows an invited member's fingerprint, so
/// the supervisor cannot copy it instead of comparing it with the person. A mismatch seals nothing (409).
struct MembersController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/desks/:desk/members", use: members)
        router.post("/console/desks/:desk/members/:username/confirm", use: confirm)
    }

    @Sendable func members(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let desk = try DashboardController.desk(context)
        let done = request.uri.queryParameters.get("done")
        return try await render(
            request, context, signed: signed, desk: desk, notice: done == "confirmed" ? "done_confirmed" : nil)
    }

    func render(
        _ request: Request, _ context: VaultRequestContext, signed: SignedIn, desk: String, notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        try await console.vault.requireSupervisor(
            of: desk, signed.user, action: "member.list", requestID: context.requestID)
        let list = try await console.vault.members(desk: desk)
        let rows: [[String: Any]] = list.map { m in
            [
                "username": m.username, "role_name": t.text("role_\(m.role.rawValue)", lang),
                "state_name": t.text("member_\(m.state)", lang), "state": m.state, "invited": m.state == "invited",
                "enrolled": m.fingerprint != nil,
                "fingerprint": m.state == "confirmed" ? (m.fingerprint ?? "") : "",
                "confirm_action": "/console/desks/\(Paths.segment(desk))/members/\(Paths.segment(m.username))/confirm",
            ]
        }
        return console.pages.render(
            "members",
            [
                "desk": desk, "page": "members", "members": rows,
                "desk_nav": DashboardController.deskNav(desk, current: "members", lang: lang, t: t),
                "notice": notice.map { t.text($0, lang) } as Any, "error": error.map { t.text($0, lang) } as Any,
            ], lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds, status: status)
    }

    @Sendable func confirm(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        let desk = try DashboardController.desk(context)
        guard let username = context.parameters.get("username"), !username.isEmpty, username.utf8.count <= 64 else {
            throw ConsoleError.notFound
        }
        guard let fingerprint = form["fingerprint"], !fingerprint.trimmingCharacters(in: .whitespaces).isEmpty,
            fingerprint.utf8.count <= 128
        else { throw ConsoleError.invalid("error_fingerprint_required") }
        do {
            try await console.vault.confirm(
                desk: desk, username: username, fingerprint: fingerprint, supervisor: signed.user,
                requestID: context.requestID)
        } catch let e as VaultError where e.code == .conflict {
            // A mismatch (recorded, nothing sealed) or a member confirmed meanwhile: the page again, saying so.
            return try await render(
                request, context, signed: signed, desk: desk, error: "error_fingerprint_mismatch", status: .conflict)
        }
        return .redirect(to: "/console/desks/\(Paths.segment(desk))/members?done=confirmed", type: .normal)
    }
}
