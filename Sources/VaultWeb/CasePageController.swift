import Foundation
import Hummingbird
import NIOCore
import VaultCore
import VaultHTTP

/// The case page (`/console/cases/{id}`): the transcript through the same Core read the API makes (recorded the
/// same way), the reply and note forms, the case's controls; for a supervisor who may not read it yet, no
/// transcript and the break-glass form; for a counselor who may not, the access-request form. Also the transcript
/// fragment the page fetches after a live event, and media through the authorized content route.
struct CasePageController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/cases/:id", use: page)
        router.get("/console/cases/:id/transcript", use: fragment)
        router.get("/console/cases/:id/messages/:mid/content", use: content)
    }

    /// The case as the user's listing shows it, if it does.
    func summary(_ id: ID, user: UnlockedUser, requestID: String) async throws -> CaseSummary? {
        guard user.role == .counselor || user.role == .supervisor else { return nil }
        var q = CaseQuery()
        q.caseID = id
        q.limit = 1
        return try await console.vault.listCases(q, as: user, requestID: requestID).first { $0.id == id }
    }

    @Sendable func page(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let user = signed.user
        let id = try CaseActionsController.caseID(context)
        let lang = Lang.of(request)
        let t = console.pages.catalogue
        let listed = try await summary(id, user: user, requestID: context.requestID)
        var values: [String: Any] = [
            "case_id": id.description, "page": "case", "base": "/console/cases/\(id)",
            "error": request.uri.queryParameters.get("error").flatMap { t.known("error_\($0)", lang) } as Any,
            "notice": request.uri.queryParameters.get("done").flatMap { t.known("done_\($0)", lang) } as Any,
            "done": request.uri.queryParameters.get("done") ?? "",
        ]
        if let listed { values.merge(caseValues(listed, user: user, lang: lang)) { $1 } }
        let messages: [TranscriptMessage]
        do {
            messages = try await console.vault.transcript(
                caseID: id, afterSeq: 0, limit: 1000, as: user, requestID: context.requestID)
        } catch let e as VaultError where e.code == .forbidden {
            // No transcript. A supervisor of the case's desk may break the glass (a page they may see); anyone
            // else sees a 403, counselors with the access-request form.
            if user.role == .supervisor, listed != nil {
                values["break_glass"] = true
                return console.pages.render(
                    "case", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
            }
            guard user.role == .counselor else { throw ConsoleError.forbidden }
            values["request_access"] = true
            return console.pages.render(
                "case", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds,
                status: .forbidden)
        }
        let zone = try await timeZone(listed?.desk, user: user, requestID: context.requestID)
        values["messages"] = messages.map { Transcript.values($0, caseID: id, zone: zone, lang: lang, t: t) }
        values["last_seq"] = String(messages.last?.seq ?? 0)
        values["readable"] = true
        // Time-limited access (break-glass, an approved request): when it ends, on the page.
        if let until = try await console.vault.grantExpiry(caseID: id, as: user) {
            values["access_until"] = Times.format(until, timeZone: zone)
        }
        if let desk = listed?.desk, user.role == .counselor || user.role == .supervisor {
            let templates =
                (try? await console.vault.templates(desk: desk, as: user, requestID: context.requestID)) ?? []
            values["templates"] = templates.map { ["title": $0.title, "text": $0.text] }
            values["has_templates"] = !templates.isEmpty
        }
        return console.pages.render(
            "case", values, lang: lang, signed: signed, idleSeconds: console.vault.sessions.idleSeconds)
    }

    func caseValues(_ c: CaseSummary, user: UnlockedUser, lang: Lang) -> [String: Any] {
        let t = console.pages.catalogue
        let mine = c.assignee == user.username
        return [
            "desk": c.desk, "desk_queue": "/console/desks/\(Paths.segment(c.desk))/queue",
            "status_name": t.text("status_\(c.status)", lang), "open": c.status == "open",
            "risk": c.risk, "risk_name": t.text("risk_\(c.risk)", lang),
            "risks": ["none", "low", "medium", "high", "imminent"].map {
                ["value": $0, "name": t.text("risk_\($0)", lang), "selected": $0 == c.risk] as [String: Any]
            },
            "assignee": c.assignee ?? t.text("assignee_none", lang), "mine": mine,
            "takeable": c.assignee == nil && user.role == .counselor && c.status == "open",
            "can_reply": mine && c.status == "open",
            "can_note": mine || user.role == .supervisor,
        ]
    }

    /// The desk's time zone for times on the page (Asia/Tokyo unless the desk's settings say otherwise).
    func timeZone(_ desk: String?, user: UnlockedUser, requestID: String) async throws -> TimeZone {
        guard let desk,
            let s = try? await console.vault.autoReplies(desk: desk, as: user, requestID: requestID),
            let zone = TimeZone(identifier: s.timeZone)
        else { return Times.tokyo }
        return zone
    }

    /// `?after_seq=N`: the messages after N as `<li>` elements, for the page to append after a live event.
    @Sendable func fragment(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let id = try CaseActionsController.caseID(context)
        let after = request.uri.queryParameters.get("after_seq").flatMap { Int($0) } ?? 0
        guard after >= 0 else { throw ConsoleError.invalid("error_bad_request") }
        let lang = Lang.of(request)
        let messages = try await console.vault.transcript(
            caseID: id, afterSeq: after, limit: 1000, as: signed.user, requestID: context.requestID)
        let listed = try await summary(id, user: signed.user, requestID: context.requestID)
        let zone = try await timeZone(listed?.desk, user: signed.user, requestID: context.requestID)
        let t = console.pages.catalogue
        let html =
            console.pages.library.render(
                [
                    "messages": messages.map { Transcript.values($0, caseID: id, zone: zone, lang: lang, t: t) },
                    "t": t[lang],
                ] as [String: Any], withTemplate: "messages") ?? ""
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// Media bytes through the same Core call as `GET /v1/cases/{id}/messages/{mid}/content` (authorized and
    /// recorded identically), streamed as they are decrypted.
    @Sendable func content(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let id = try CaseActionsController.caseID(context)
        guard let raw = context.parameters.get("mid"), let mid = ID(raw) else { throw ConsoleError.notFound }
        let reader = try await console.vault.openContent(
            caseID: id, messageID: mid, as: signed.user, requestID: context.requestID)
        // Shown inline only for kinds a browser renders without running anything; everything else downloads.
        let inline = [
            "image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "audio/mpeg", "audio/mp4", "audio/aac",
            "audio/m4a",
        ]
        let type = inline.contains(reader.contentType) ? reader.contentType : "application/octet-stream"
        return Response(
            status: .ok,
            headers: [
                .contentType: type,
                .contentDisposition: inline.contains(reader.contentType) ? "inline" : "attachment",
            ],
            body: ResponseBody(contentLength: reader.size) { writer in
                while let chunk = try await reader.next() { try await writer.write(ByteBuffer(bytes: chunk)) }
                try await writer.finish(nil)
            })
    }
}
