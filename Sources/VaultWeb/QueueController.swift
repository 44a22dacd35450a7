import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The desk queue (`/console/desks/{desk}/queue`): metadata only, in triage order (risk, then longest waiting),
/// the desk's unassigned open cases and the user's own; taking a case posts to `/console/cases/{id}/assign`.
struct QueueController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/desks/:desk/queue", use: queue)
    }

    @Sendable func queue(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        guard let desk = context.parameters.get("desk"), !desk.isEmpty, desk.utf8.count <= 64 else {
            throw ConsoleError.notFound
        }
        let lang = Lang.of(request)
        let user = signed.user
        var q = CaseQuery()
        q.desk = desk
        q.status = "open"
        q.triage = true
        q.limit = 1000
        // The listing's own check first (other roles: a recorded denial), then desk membership (the desk's
        // settings are for its members only), which also gives the desk's time zone.
        let cases = try await console.vault.listCases(q, as: user, requestID: context.requestID)
        let settings = try await console.vault.autoReplies(desk: desk, as: user, requestID: context.requestID)
        let zone = TimeZone(identifier: settings.timeZone) ?? Times.tokyo
        let t = console.pages.catalogue
        // Everything a row shows is in the row itself: a name Mustache does not find there is looked up through
        // every enclosing context, which for 1,000 rows cost more than the listing.
        let csrf = signed.csrf
        let takeCase = t.text("take_case", lang)
        let assigneeMe = t.text("assignee_me", lang)
        let rows: [[String: Any]] = cases.filter { $0.assignee == nil || $0.assignee == user.username }.map { c in
            [
                "id": c.id.description,
                "href": "/console/cases/\(c.id)",
                "risk": c.risk,
                "risk_name": t.text("risk_\(c.risk)", lang),
                "waiting": c.waitingSince.map { Times.format($0, timeZone: zone) } ?? "",
                "last": Times.format(c.lastMessageAt, timeZone: zone),
                "flags": c.flags.map { t.text("flag_\($0)", lang) }.joined(separator: ", "),
                "unread": c.unread,
                "count": c.messageCount,
                "assignee": c.assignee ?? "",
                "mine": c.assignee == user.username,
                "takeable": c.assignee == nil && user.role == .counselor,
                "assign_action": "/console/cases/\(c.id)/assign",
                "csrf": csrf, "take_case": takeCase, "assignee_me": assigneeMe,
            ]
        }
        let desks = try await console.vault.memberDeskNames(user)
        return console.pages.render(
            "queue",
            [
                "desk": desk, "cases": rows, "empty": rows.isEmpty, "timezone": settings.timeZone,
                "desks": desks.map {
                    ["name": $0, "href": "/console/desks/\(Paths.segment($0))/queue", "current": $0 == desk]
                        as [String: Any]
                },
                "page": "queue",
                // Supervisors also reach the desk's dashboard and members pages from here.
                "supervisor_nav": user.role == .supervisor,
                "desk_nav": DashboardController.deskNav(desk, current: "queue", lang: lang, t: t),
            ], lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }
}
