import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The auditor's break-glass review queue (`/console/audit/break-glass`, each start with its reason and a comment
/// form; `GET /v1/audit/break-glass` and `…/review`'s Core calls) and the report for a period
/// (`/console/audit/report?from=&to=`, `audit report`'s Core call rendered as a page). Auditors only; no content.
struct AuditReviewController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/audit/break-glass", use: queue)
        router.post("/console/audit/break-glass/:seq/review", use: review)
        router.get("/console/audit/report", use: report)
    }

    @Sendable func queue(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        let items = try await console.vault.breakGlassQueue(as: signed.user, requestID: context.requestID)
        // Waiting reviews first (oldest first), then the reviewed ones (newest first).
        let ordered = items.filter { !$0.reviewed } + items.filter(\.reviewed).reversed()
        return console.pages.render(
            "audit-breakglass",
            [
                "page": "audit-breakglass",
                "audit_nav": AuditLogController.auditNav(
                    current: "audit_breakglass", lang: lang, t: t),
                "items": ordered.map { Self.values($0) }, "empty": items.isEmpty,
                "waiting_count": String(items.filter { !$0.reviewed }.count),
                "notice": (request.uri.queryParameters.get("done") == "reviewed" ? t.text("done_reviewed", lang) : nil)
                    as Any,
            ] as [String: Any], lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }

    /// `yyyy-mm-dd` of a moment in Asia/Tokyo.
    static func tokyoDate(_ milliseconds: Int64) -> String {
        String(Times.format(milliseconds, timeZone: Times.tokyo).prefix(10))
    }

    static func values(_ item: BreakGlassItem) -> [String: Any] {
        let e = item.event.entry
        return [
            "seq": String(e.seq), "time": Times.format(e.time, timeZone: Times.tokyo), "actor": e.actor,
            "target": e.target, "reason": item.event.reason ?? "", "reviewed": item.reviewed,
            "reviewer": item.reviewer ?? "", "comment": item.comment ?? "",
            "reviewed_at": item.reviewedAt.map { Times.format($0, timeZone: Times.tokyo) } ?? "",
            "review_action": "/console/audit/break-glass/\(e.seq)/review",
        ]
    }

    @Sendable func review(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        guard let raw = context.parameters.get("seq"), let seq = Int64(raw), seq > 0 else {
            throw ConsoleError.notFound
        }
        guard let comment = form["comment"], !comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ConsoleError.invalid("error_comment_required")
        }
        _ = try await console.vault.reviewBreakGlass(
            seq: seq, comment: comment, as: signed.user, requestID: context.requestID)
        return .redirect(to: "/console/audit/break-glass?done=reviewed", type: .normal)
    }

    @Sendable func report(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        let p = request.uri.queryParameters
        var values: [String: Any] = [
            "page": "audit-report", "audit_nav": AuditLogController.auditNav(current: "audit_report", lang: lang, t: t),
        ]
        // Without a period, the last seven days up to today (Asia/Tokyo): the page always is a report, read (and
        // authorized, and recorded) through the same Core call as `audit report`.
        let today = Self.tokyoDate(console.vault.nowMilliseconds)
        let weekAgo = Self.tokyoDate(console.vault.nowMilliseconds - 6 * 86_400_000)
        let fromText = p.get("from").flatMap { $0.isEmpty ? nil : $0 } ?? weekAgo
        let toText = p.get("to").flatMap { $0.isEmpty ? nil : $0 } ?? today
        values["f_from"] = fromText
        values["f_to"] = toText
        guard let from = try AuditLogController.day(fromText),
            let until = try AuditLogController.day(toText, next: true)
        else { throw ConsoleError.invalid("error_bad_date") }
        let r = try await console.vault.auditReport(
            since: from, until: until, as: signed.user, requestID: context.requestID)
        let zone = Times.tokyo
        func entry(_ e: AuditEntry) -> [String: Any] {
            [
                "seq": String(e.seq), "time": Times.format(e.time, timeZone: zone), "actor": e.actor,
                "action": e.action, "target": e.target,
            ]
        }
        values["report"] = true
        values["period"] = "\(Times.format(r.since, timeZone: zone)) – \(Times.format(r.until, timeZone: zone))"
        values["generated"] = Times.format(r.generatedAt, timeZone: zone)
        values["generated_by"] = r.generatedBy
        values["vault_id"] = r.vaultID
        values["verified"] = r.verified
        values["verification"] = r.verification
        values["actors"] = r.actors.map { ["actor": $0.actor, "total": String($0.total)] }
        values["no_actors"] = r.actors.isEmpty
        values["breakglass"] = r.breakGlass.map { Self.values($0) }
        values["no_breakglass"] = r.breakGlass.isEmpty
        values["denied"] = r.denied.map(entry)
        values["no_denied"] = r.denied.isEmpty
        values["unlock_failures"] = r.unlockFailures.map(entry)
        values["no_unlock_failures"] = r.unlockFailures.isEmpty
        return console.pages.render(
            "audit-report", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }
}
