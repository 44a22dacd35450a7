import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The auditor's access log (`/console/audit`): entries newest first, each an element with `data-seq`, filtered by
/// actor, action, case, outcome and period, paged by seq; and the chain's state (`/console/audit/chain`): the
/// newest checkpoint, the unanchored entries and a fresh verification. The same Core reads the API makes
/// (`GET /v1/audit/events`, `GET /v1/audit/checkpoints`), so only auditors see them and every read is recorded.
/// Entries carry no content; reasons are shown as the API shows them to auditors, escaped.
struct AuditLogController {
    let console: Console
    static let pageSize = 50

    static let actions = [
        "relay.write", "transcript.read", "content.read", "session.unlock", "enroll", "case.assign", "case.release",
        "case.update", "case.list", "note.write", "reply.write", "access.request", "access.approve", "access.decline",
        "access.expire", "access.list", "breakglass.start", "breakglass.expire", "breakglass.review", "member.invite",
        "member.confirm", "member.remove", "member.list", "auditor.confirm", "user.add", "user.disable", "token.issue",
        "token.revoke", "key.rotate", "retention.change", "purge", "backup", "restore", "audit.read", "admin.read",
        "record.write", "taxonomy.change", "triage.change", "template.write", "autoreply.change", "statistics.read",
        "disclosure.request", "disclosure.approve", "disclosure.decline", "disclosure.download", "handback",
    ]

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/audit", use: log)
        router.get("/console/audit/chain", use: chain)
    }

    /// The auditor's pages' links (log, chain, break-glass reviews, report).
    static func auditNav(current: String, lang: Lang, t: Catalogue) -> [[String: Any]] {
        [
            ("", "audit_log"), ("/chain", "audit_chain"), ("/break-glass", "audit_breakglass"),
            ("/report", "audit_report"),
        ]
        .map { path, key in
            ["href": "/console/audit\(path)", "name": t.text(key, lang), "current": key == current]
        }
    }

    /// A `yyyy-mm-dd` date as the start of that day in Asia/Tokyo (with `next`, the start of the next day), Unix ms.
    static func day(_ s: String?, next: Bool = false) throws -> Int64? {
        guard let s, !s.isEmpty else { return nil }
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard s.count == 10, parts.count == 3 else { throw ConsoleError.invalid("error_bad_date") }
        var c = DateComponents()
        c.year = parts[0]
        c.month = parts[1]
        c.day = parts[2]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Times.tokyo
        guard (1...12).contains(parts[1]), (1...31).contains(parts[2]), let start = calendar.date(from: c),
            let date = next ? calendar.date(byAdding: .day, value: 1, to: start) : start
        else { throw ConsoleError.invalid("error_bad_date") }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    @Sendable func log(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        let p = request.uri.queryParameters
        func field(_ name: String, max: Int = 128) throws -> String? {
            guard let v = p.get(name), !v.isEmpty else { return nil }
            guard v.utf8.count <= max else { throw ConsoleError.invalid("error_bad_request") }
            return v
        }
        var q = AuditEventQuery()
        q.limit = Self.pageSize
        q.actor = try field("actor")
        q.action = try field("action", max: 64)
        if let c = try field("case", max: 64) {
            guard let id = ID(c) else { throw ConsoleError.invalid("error_bad_case") }
            q.caseID = id
        }
        if let o = try field("outcome", max: 16) {
            guard let outcome = AuditEntry.Outcome(rawValue: o) else { throw ConsoleError.invalid("error_bad_request") }
            q.outcome = outcome
        }
        q.since = try Self.day(try field("from", max: 10))
        q.until = try Self.day(try field("to", max: 10), next: true)
        if let after = try field("after", max: 20) {
            guard let n = Int64(after), n >= 0 else { throw ConsoleError.invalid("error_bad_request") }
            q.after = n
        } else if let before = try field("before", max: 20) {
            guard let n = Int64(before), n > 0 else { throw ConsoleError.invalid("error_bad_request") }
            q.before = n
        } else {
            q.before = Int64.max  // the newest page
        }
        let events = try await console.vault.auditEvents(q, as: signed.user, requestID: context.requestID)
        // Links keep the filters; `after`/`before` move by seq.
        var filters: [(String, String)] = []
        for name in ["actor", "action", "case", "outcome", "from", "to"] {
            if let v = try field(name, max: 128) { filters.append((name, v)) }
        }
        func link(_ extra: (String, String)?) -> String {
            var c = URLComponents()
            c.path = "/console/audit"
            c.queryItems = (filters + (extra.map { [$0] } ?? [])).map { URLQueryItem(name: $0.0, value: $0.1) }
            return c.string ?? "/console/audit"
        }
        let newestFirst = events.reversed()
        let rows: [[String: Any]] = newestFirst.map { e in
            let x = e.entry
            return [
                "seq": String(x.seq), "time": Times.format(x.time, timeZone: Times.tokyo), "actor": x.actor,
                "role": x.role, "action": x.action, "target": x.target, "outcome": x.outcome.rawValue,
                "outcome_name": t.text("outcome_\(x.outcome.rawValue)", lang), "reason": e.reason ?? "",
            ]
        }
        let full = events.count == Self.pageSize
        var values: [String: Any] = [
            "page": "audit", "entries": rows, "empty": rows.isEmpty,
            "audit_nav": Self.auditNav(current: "audit_log", lang: lang, t: t),
            "f_actor": p.get("actor") ?? "", "f_case": p.get("case") ?? "", "f_from": p.get("from") ?? "",
            "f_to": p.get("to") ?? "",
            "actions": Self.actions.map { ["value": $0, "selected": $0 == q.action] as [String: Any] },
            "outcomes": [AuditEntry.Outcome.allowed, .denied, .error].map { (o: AuditEntry.Outcome) -> [String: Any] in
                ["value": o.rawValue, "name": t.text("outcome_\(o.rawValue)", lang), "selected": o == q.outcome]
            },
        ]
        let newestPage = q.before == Int64.max
        if let first = events.first, let last = events.last {
            // Older entries exist when this page is full or was reached by moving forward; newer ones likewise.
            if q.after > 0 || full { values["older"] = link(("before", String(first.entry.seq))) }
            if !newestPage && (q.after == 0 || full) { values["newer"] = link(("after", String(last.entry.seq))) }
        }
        if !newestPage { values["newest"] = link(nil) }
        return console.pages.render(
            "audit", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }

    @Sendable func chain(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        // The auditor's check (recorded) comes first: verification itself asks for no role.
        let notes = try await console.vault.auditCheckpoints(as: signed.user, requestID: context.requestID)
        var values: [String: Any] = [
            "page": "audit-chain", "audit_nav": Self.auditNav(current: "audit_chain", lang: lang, t: t),
        ]
        if let newest = notes.last(where: { $0.kind == .checkpoint }) {
            values["checkpoint_seq"] = String(newest.seq)
            values["checkpoint_time"] = Times.format(newest.time, timeZone: Times.tokyo)
        }
        do {
            let summary = try await console.vault.verifyAuditLog()
            values["verified"] = true
            values["entries"] = String(summary.entries)
            values["unanchored"] = String(summary.unanchored)
            values["anchor"] = String(summary.newestAnchor)
            values["checkpoints"] = String(summary.checkpoints)
            values["result"] = t.text("chain_ok", lang)
        } catch let failure as AuditVerificationFailure {
            values["verified"] = false
            values["result"] = t.text("chain_failed", lang)
            values["failure"] = failure.description
        }
        return console.pages.render(
            "audit-chain", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }
}
