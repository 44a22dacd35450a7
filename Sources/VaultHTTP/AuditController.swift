import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VaultCore

/// The auditor's routes: events, export, checkpoints, the break-glass review queue, auditor confirmation.
/// Auditors only (403 for every other role, recorded; 401 without a session). Every read is itself logged.
struct AuditController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct ConfirmRequest: Decodable {
        let fingerprint: String
    }

    struct ReviewRequest: Decodable {
        let comment: String
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/v1/audit/auditors/:username/confirm", use: confirm)
        router.get("/v1/audit/events", use: events)
        router.get("/v1/audit/export", use: export)
        router.get("/v1/audit/checkpoints", use: checkpoints)
        router.get("/v1/audit/break-glass", use: breakGlass)
        router.post("/v1/audit/break-glass/:seq/review", use: review)
    }

    @Sendable func confirm(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let username = try context.parameters.require("username")
        try RelayController.check(username, "username", max: 64)
        let body = try await JSONBody.decode(ConfirmRequest.self, from: request, limit: maxBodyBytes)
        try RelayController.check(body.fingerprint, "fingerprint", max: 128)
        try await vault.confirmAuditor(
            username: username, fingerprint: body.fingerprint, as: user, requestID: context.requestID)
        return try JSONBody.response(["username": username, "state": "confirmed"])
    }

    @Sendable func events(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let q = Query(request: request)
        var query = AuditEventQuery()
        query.after = Int64(try q.int("after", range: 0...Int(Int64.max - 1)) ?? 0)
        query.limit = try q.int("limit", range: 1...1000) ?? 100
        query.actor = try q.string("actor", maxLength: 128)
        query.action = try q.string("action", maxLength: 64)
        if let c = try q.string("case", maxLength: 64) {
            guard let id = ID(c) else { throw APIError.invalid("query parameter `case` must be a case id (UUID)") }
            query.caseID = id
        }
        let events = try await vault.auditEvents(query, as: user, requestID: context.requestID)
        return try JSONBody.response(["events": events.map(AuditEventJSON.init)])
    }

    @Sendable func export(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        try await vault.beginAuditExport(as: user, requestID: context.requestID)
        let vault = self.vault
        return Response(
            status: .ok, headers: [.contentType: "application/jsonl; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                try await vault.writeAuditExport { chunk in try await writer.write(ByteBuffer(bytes: chunk)) }
                try await writer.finish(nil)
            })
    }

    struct NoteJSON: Encodable {
        let type: String
        let seq: Int64
        let time: String
        let note: String
    }

    @Sendable func checkpoints(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let notes = try await vault.auditCheckpoints(as: user, requestID: context.requestID)
        return try JSONBody.response([
            "checkpoints": notes.map {
                NoteJSON(type: $0.kind.rawValue, seq: $0.seq, time: Timestamp.format($0.time), note: $0.note)
            }
        ])
    }

    @Sendable func breakGlass(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let items = try await vault.breakGlassQueue(as: user, requestID: context.requestID)
        return try JSONBody.response(["break_glass": items.map(BreakGlassJSON.init)])
    }

    @Sendable func review(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        guard let seq = Int64(try context.parameters.require("seq")), seq > 0 else {
            throw APIError.invalid("the break-glass id is the seq of its `breakglass.start` entry (a positive integer)")
        }
        let body = try await JSONBody.decode(ReviewRequest.self, from: request, limit: maxBodyBytes)
        let item = try await vault.reviewBreakGlass(
            seq: seq, comment: body.comment, as: user, requestID: context.requestID)
        return try JSONBody.response(BreakGlassJSON(item))
    }
}
