import Foundation
import HTTPTypes
import Hummingbird
import VaultCore

/// Staff case routes: listing (metadata), assignment, transcripts.
struct CaseController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct CaseJSON: Encodable {
        let id: String
        let desk: String
        let status: String
        let risk: String
        let assignee: String?
        let flags: [String]
        let openedAt: String
        let lastMessageAt: String
        let messageCount: Int
        let unread: Int

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(desk, forKey: .desk)
            try c.encode(status, forKey: .status)
            try c.encode(risk, forKey: .risk)
            try c.encode(assignee, forKey: .assignee)
            try c.encode(flags, forKey: .flags)
            try c.encode(openedAt, forKey: .openedAt)
            try c.encode(lastMessageAt, forKey: .lastMessageAt)
            try c.encode(messageCount, forKey: .messageCount)
            try c.encode(unread, forKey: .unread)
        }

        enum CodingKeys: String, CodingKey {
            case id, desk, status, risk, assignee, flags, openedAt, lastMessageAt, messageCount, unread
        }
    }

    struct MessageJSON: Encodable {
        let m: TranscriptMessage

        enum CodingKeys: String, CodingKey {
            case id, seq, direction, kind, text, data, sentAt, author, retracted, delivery
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(m.id.description, forKey: .id)
            try c.encode(m.seq, forKey: .seq)
            try c.encode(m.direction, forKey: .direction)
            try c.encode(m.kind, forKey: .kind)
            try c.encode(m.text, forKey: .text)
            try c.encode(m.data, forKey: .data)
            try c.encode(Timestamp.format(m.sentAt), forKey: .sentAt)
            try c.encode(m.author, forKey: .author)
            try c.encode(m.retracted, forKey: .retracted)
            try c.encode(m.delivery, forKey: .delivery)
        }
    }

    struct TranscriptJSON: Encodable {
        let caseID: String
        let messages: [MessageJSON]
    }

    struct AssignRequest: Decodable {
        let assignee: String
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/cases", use: list)
        router.post("/v1/cases/:id/assign", use: assign)
        router.get("/v1/cases/:id/messages", use: messages)
        router.get("/v1/cases/:id/messages/:mid/content", use: content)
    }

    static func caseID(_ context: VaultRequestContext) throws -> ID {
        guard let raw = context.parameters.get("id"), let id = ID(raw) else {
            throw APIError.invalid("the case id in the path must be a UUID")
        }
        return id
    }

    @Sendable func list(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let q = Query(request: request)
        var query = CaseQuery()
        query.desk = try q.string("desk", maxLength: 64)
        if let status = try q.string("status") {
            guard status == "open" || status == "closed" else {
                throw APIError.invalid("`status` must be open or closed")
            }
            query.status = status
        }
        if let assigned = try q.string("assigned") {
            guard assigned == "me" else { throw APIError.invalid("`assigned` accepts only `me`") }
            query.assignedToMe = true
        }
        query.flagged = try q.bool("flagged")
        query.limit = try q.int("limit", range: 1...1000) ?? 100
        if let after = try q.string("after", maxLength: 64) {
            guard let id = ID(after) else { throw APIError.invalid("`after` must be a case id") }
            query.after = id
        }
        let cases = try await vault.listCases(query, as: user)
        return try JSONBody.response([
            "cases": cases.map {
                CaseJSON(
                    id: $0.id.description, desk: $0.desk, status: $0.status, risk: $0.risk, assignee: $0.assignee,
                    flags: $0.flags, openedAt: Timestamp.format($0.openedAt),
                    lastMessageAt: Timestamp.format($0.lastMessageAt), messageCount: $0.messageCount,
                    unread: $0.unread)
            }
        ])
    }

    @Sendable func assign(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try Self.caseID(context)
        let body = try await JSONBody.decode(AssignRequest.self, from: request, limit: maxBodyBytes)
        try RelayController.check(body.assignee, "assignee", max: 64)
        try await vault.assign(caseID: id, to: body.assignee, as: user, requestID: context.requestID)
        return try JSONBody.response(["case_id": id.description, "assignee": body.assignee])
    }

    /// `GET /v1/cases/{id}/messages/{mid}/content`: the media bytes, decrypted chunk by chunk as they are sent.
    @Sendable func content(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try Self.caseID(context)
        guard let raw = context.parameters.get("mid"), let mid = ID(raw) else {
            throw APIError.invalid("the message id in the path must be a UUID")
        }
        let reader = try await vault.openContent(caseID: id, messageID: mid, as: user, requestID: context.requestID)
        return Response(
            status: .ok,
            headers: [.contentType: reader.contentType, .cacheControl: "no-store"],
            body: ResponseBody(contentLength: reader.size) { writer in
                while let chunk = try await reader.next() {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            })
    }

    @Sendable func messages(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try Self.caseID(context)
        let q = Query(request: request)
        let after = try q.int("after_seq", range: 0...Int(Int32.max)) ?? 0
        let limit = try q.int("limit", range: 1...1000) ?? 100
        let includeRetracted = try q.bool("include_retracted") ?? false
        var reason: String?
        if includeRetracted {
            guard let r = request.headers[HTTPField.Name("X-Access-Reason")!],
                !r.trimmingCharacters(in: .whitespaces).isEmpty
            else {
                throw APIError.invalid("`include_retracted=true` needs an X-Access-Reason header saying why")
            }
            guard r.utf8.count <= 1000 else { throw APIError.invalid("X-Access-Reason is longer than 1000 bytes") }
            reason = r
        }
        let messages = try await vault.transcript(
            caseID: id, afterSeq: after, limit: limit, includeRetracted: includeRetracted, reason: reason, as: user,
            requestID: context.requestID)
        return try JSONBody.response(TranscriptJSON(caseID: id.description, messages: messages.map(MessageJSON.init)))
    }
}
