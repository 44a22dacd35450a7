import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The supervisor's desk dashboard (`/console/desks/{desk}/dashboard`): the waiting count (`data-waiting-count`),
/// the longest wait, unassigned high/imminent cases, cases whose assignee has no live session, who is unlocked
/// now, live grants with their expiry, pending access requests and a pending retention change; metadata only,
/// refreshed live (dashboard.js refetches the page on the event stream's case events). Assigning and handing over,
/// deciding requests and approving retention are form posts calling the Core functions the API calls.
struct DashboardController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/desks/:desk/dashboard", use: dashboard)
        router.post("/console/cases/:id/handover", use: handover)
        router.post("/console/access-requests/:id/approve", use: approve)
        router.post("/console/access-requests/:id/decline", use: decline)
        router.post("/console/desks/:desk/retention/approve", use: approveRetention)
    }

    /// The desk named in the path (404 for none or an overlong one).
    static func desk(_ context: VaultRequestContext) throws -> String {
        guard let desk = context.parameters.get("desk"), !desk.isEmpty, desk.utf8.count <= 64 else {
            throw ConsoleError.notFound
        }
        return desk
    }

    /// The desk named by a form's `desk` field, for the redirect back to its dashboard.
    static func formDesk(_ form: Form) throws -> String {
        guard let desk = form["desk"], !desk.isEmpty, desk.utf8.count <= 64 else {
            throw ConsoleError.invalid("error_bad_request")
        }
        return desk
    }

    static func back(_ desk: String, _ done: String) -> Response {
        .redirect(to: "/console/desks/\(Paths.segment(desk))/dashboard?done=\(done)", type: .normal)
    }

    /// The links between a supervisor's desk pages (queue, dashboard, members).
    static func deskNav(_ desk: String, current: String, lang: Lang, t: Catalogue) -> [[String: Any]] {
        [("queue", "queue_title"), ("dashboard", "dash_title"), ("members", "members_title")].map { page, key in
            [
                "href": "/console/desks/\(Paths.segment(desk))/\(page)", "name": t.text(key, lang),
                "current": page == current,
            ]
        }
    }

    @Sendable func dashboard(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let user = signed.user
        let desk = try Self.desk(context)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        // Supervisors of the desk only (anyone else: a recorded denial, 403 or 404).
        let oversight = try await console.vault.deskOversight(desk: desk, as: user, requestID: context.requestID)
        var q = CaseQuery()
        q.desk = desk
        q.status = "open"
        q.triage = true
        q.limit = 1000
        let cases = try await console.vault.listCases(q, as: user, requestID: context.requestID)
        let requests = try await console.vault.listAccessRequests(desk: desk, as: user, requestID: context.requestID)
        let settings = try await console.vault.autoReplies(desk: desk, as: user, requestID: context.requestID)
        let zone = TimeZone(identifier: settings.timeZone) ?? Times.tokyo
        let now = console.vault.nowMilliseconds
        let unlocked = Set(oversight.unlocked)
        let waiting = cases.compactMap(\.waitingSince)
        let assignees = oversight.members.filter { $0 != user.username }
        func row(_ c: CaseSummary) -> [String: Any] {
            [
                "id": c.id.description, "href": "/console/cases/\(c.id)", "risk": c.risk,
                "risk_name": t.text("risk_\(c.risk)", lang),
                "waiting": c.waitingSince.map { Times.format($0, timeZone: zone) } ?? "",
                "assignee": c.assignee ?? t.text("assignee_none", lang),
                "handover_action": "/console/cases/\(c.id)/handover",
                "choices": assignees.map { ["name": $0, "selected": $0 == c.assignee] as [String: Any] },
            ]
        }
        let urgent = cases.filter { $0.assignee == nil && ($0.risk == "high" || $0.risk == "imminent") }
        let offline = cases.filter { c in c.assignee.map { !unlocked.contains($0) } ?? false }
        let pending = requests.filter { $0.state == "pending" }
        let desks = try await console.vault.memberDeskNames(user).map {
            ["name": $0, "href": "/console/desks/\(Paths.segment($0))/dashboard", "current": $0 == desk]
                as [String: Any]
        }
        let values: [String: Any] = [
            "desk": desk, "page": "dashboard", "timezone": settings.timeZone,
            "desk_nav": Self.deskNav(desk, current: "dashboard", lang: lang, t: t),
            "desks": desks,
            "notice": request.uri.queryParameters.get("done").flatMap { t.known("done_\($0)", lang) } as Any,
            "waiting_count": String(waiting.count),
            "longest_wait_minutes": waiting.min().map { String(max(0, now - $0) / 60_000) } ?? "0",
            "longest_since": waiting.min().map { Times.format($0, timeZone: zone) } as Any,
            "open_count": String(cases.count),
            "urgent": urgent.map(row), "no_urgent": urgent.isEmpty,
            "offline": offline.map(row), "no_offline": offline.isEmpty,
            "cases": cases.map(row), "no_cases": cases.isEmpty,
            "unlocked": oversight.unlocked.map { ["name": $0] }, "no_unlocked": oversight.unlocked.isEmpty,
            "grants": oversight.grants.map { g in
                [
                    "case_id": g.caseID.description, "href": "/console/cases/\(g.caseID)", "grantee": g.grantee,
                    "kind_name": t.text("grant_\(g.kind)", lang), "expires": Times.format(g.expiresAt, timeZone: zone),
                ] as [String: Any]
            },
            "no_grants": oversight.grants.isEmpty,
            "requests": pending.map { r in
                [
                    "id": r.id.description, "case_id": r.caseID.description, "href": "/console/cases/\(r.caseID)",
                    "requester": r.requester, "reason": r.reason ?? "",
                    "created": Times.format(r.createdAt, timeZone: zone),
                    "approve_action": "/console/access-requests/\(r.id)/approve",
                    "decline_action": "/console/access-requests/\(r.id)/decline",
                ] as [String: Any]
            },
            "no_requests": pending.isEmpty,
            "pending_retention": oversight.pendingRetentionDays.map(String.init) as Any,
            "retention_action": "/console/desks/\(Paths.segment(desk))/retention/approve",
        ]
        return console.pages.render(
            "dashboard", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }

    /// Assigns or hands a case over to the member chosen in `assignee` (`POST /v1/cases/{id}/assign`'s Core call).
    @Sendable func handover(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        let id = try CaseActionsController.caseID(context)
        let desk = try Self.formDesk(form)
        guard let assignee = form["assignee"], !assignee.isEmpty, assignee.utf8.count <= 64 else {
            throw ConsoleError.invalid("error_assignee_required")
        }
        try await console.vault.assign(
            caseID: id, to: assignee, reason: nil, as: signed.user, requestID: context.requestID)
        return Self.back(desk, "handover")
    }

    @Sendable func approve(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try await decide(request, context, approve: true)
    }

    @Sendable func decline(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try await decide(request, context, approve: false)
    }

    /// `POST /v1/access-requests/{id}/approve|decline`'s Core call.
    func decide(_ request: Request, _ context: VaultRequestContext, approve: Bool) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        guard let raw = context.parameters.get("id"), let id = ID(raw) else { throw ConsoleError.notFound }
        let desk = try Self.formDesk(form)
        try await console.vault.decideAccessRequest(
            id, approve: approve, as: signed.user, auditRequestID: context.requestID)
        return Self.back(desk, approve ? "approved" : "declined")
    }

    /// A supervisor approves the desk's pending retention shortening (`desk approve-retention`'s Core call).
    @Sendable func approveRetention(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        let desk = try Self.desk(context)
        _ = try await console.vault.approveRetention(desk: desk, as: signed.user, requestID: context.requestID)
        return Self.back(desk, "retention")
    }
}
