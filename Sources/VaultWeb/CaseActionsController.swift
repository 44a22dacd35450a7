import Foundation
import Hummingbird
import VaultCore
import VaultHTTP

/// The case's state-changing actions, each a form post with the session's CSRF token, each the same Core call the
/// API makes (so authorization and the access log are identical), each answered by a redirect to the case page.
struct CaseActionsController {
    let console: Console

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/console/cases/:id/assign", use: assign)
        router.post("/console/cases/:id/replies", use: reply)
        router.post("/console/cases/:id/notes", use: note)
        router.post("/console/cases/:id/risk", use: risk)
        router.post("/console/cases/:id/hold", use: hold)
        router.post("/console/cases/:id/release", use: release)
        router.post("/console/cases/:id/close", use: close)
        router.post("/console/cases/:id/access-requests", use: requestAccess)
        router.post("/console/cases/:id/break-glass", use: breakGlass)
    }

    static func caseID(_ context: VaultRequestContext) throws -> ID {
        guard let raw = context.parameters.get("id"), let id = ID(raw) else { throw ConsoleError.notFound }
        return id
    }

    /// The checked session, the case id and the form of an action.
    func action(_ request: Request, _ context: VaultRequestContext) async throws -> (SignedIn, ID, Form) {
        let form = try await Form.read(request, limit: console.maxBodyBytes)
        let signed = try await console.auth.userChecked(request, form: form)
        return (signed, try Self.caseID(context), form)
    }

    static func done(_ id: ID, _ what: String) -> Response {
        .redirect(to: "/console/cases/\(id)?done=\(what)", type: .normal)
    }

    /// A required text field, trimmed for the emptiness check only.
    static func required(_ form: Form, _ name: String, key: String) throws -> String {
        guard let value = form[name], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ConsoleError.invalid(key)
        }
        return value
    }

    /// Takes a queue case (assigns it to the signed-in counselor), then opens it.
    @Sendable func assign(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, _) = try await action(request, context)
        try await console.vault.assign(
            caseID: id, to: signed.user.username, reason: nil, as: signed.user, requestID: context.requestID)
        return Self.done(id, "taken")
    }

    /// A reply, as `POST /v1/cases/{id}/replies` (the LINE length limit, first-response metric included).
    @Sendable func reply(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        let text = try Self.required(form, "text", key: "error_text_required")
        guard text.count <= 5000 else { throw ConsoleError.invalid("error_bad_request") }
        let waiting = try await console.vault.waitingSince(caseID: id)
        _ = try await console.vault.queueReply(caseID: id, text: text, as: signed.user, requestID: context.requestID)
        if let waiting, let since = waiting.since {
            VaultMetrics.firstResponse(
                desk: waiting.desk, seconds: Double(max(0, console.vault.nowMilliseconds - since)) / 1000)
        }
        return Self.done(id, "reply")
    }

    @Sendable func note(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        let text = try Self.required(form, "text", key: "error_text_required")
        _ = try await console.vault.addNote(id, text: text, as: signed.user, requestID: context.requestID)
        return Self.done(id, "note")
    }

    @Sendable func risk(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        try await console.vault.updateCase(
            id, CaseUpdate(status: nil, risk: form["risk"] ?? "", hold: nil), as: signed.user,
            requestID: context.requestID)
        return Self.done(id, "risk")
    }

    @Sendable func hold(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        guard let value = form["hold"], value == "on" || value == "off" else {
            throw ConsoleError.invalid("error_bad_request")
        }
        try await console.vault.updateCase(
            id, CaseUpdate(status: nil, risk: nil, hold: value == "on"), as: signed.user, requestID: context.requestID)
        return Self.done(id, "hold")
    }

    @Sendable func release(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, _) = try await action(request, context)
        try await console.vault.release(id, as: signed.user, requestID: context.requestID)
        return Self.done(id, "release")
    }

    @Sendable func close(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, _) = try await action(request, context)
        try await console.vault.updateCase(
            id, CaseUpdate(status: "closed", risk: nil, hold: nil), as: signed.user, requestID: context.requestID)
        return Self.done(id, "closed")
    }

    @Sendable func requestAccess(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        let reason = try Self.required(form, "reason", key: "error_reason_required")
        _ = try await console.vault.requestAccess(id, reason: reason, as: signed.user, requestID: context.requestID)
        return Self.done(id, "access_request")
    }

    /// Break-glass: an empty reason is a 400 and starts nothing (Core is not called).
    @Sendable func breakGlass(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let (signed, id, form) = try await action(request, context)
        let reason = try Self.required(form, "reason", key: "error_reason_required")
        _ = try await console.vault.breakGlass(id, reason: reason, as: signed.user, requestID: context.requestID)
        return Self.done(id, "break_glass")
    }
}
