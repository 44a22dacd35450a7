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
        let waitingSince: String?
        let repeatContacts: Int

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
            try c.encode(waitingSince, forKey: .waitingSince)
            try c.encode(repeatContacts, forKey: .repeatContacts)
        }

        enum CodingKeys: String, CodingKey {
            case id, desk, status, risk, assignee, flags, openedAt, lastMessageAt, messageCount, unread, waitingSince
            case repeatContacts
        }
    }

    struct AssignRequest: Decodable {
        let assignee: String
        /// Required when a supervisor assigns a case to themselves (reviewed like break-glass).
        let reason: String?
    }

    struct PatchRequest: Decodable {
        let status: String?
        let risk: String?
        let hold: Bool?
    }

    struct TextRequest: Decodable {
        let text: String
    }

    struct ReasonRequest: Decodable {
        let reason: String
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/cases", use: list)
        router.patch("/v1/cases/:id", use: patch)
        router.post("/v1/cases/:id/assign", use: assign)
        router.post("/v1/cases/:id/release", use: release)
        router.get("/v1/cases/:id/messages", use: messages)
        router.post("/v1/cases/:id/notes", use: note)
        router.post("/v1/cases/:id/replies", use: reply)
        router.post("/v1/cases/:id/access-requests", use: requestAccess)
        router.post("/v1/cases/:id/break-glass", use: breakGlass)
        router.get("/v1/cases/:id/messages/:mid/content", use: content)
    }

    @Sendable func patch(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(PatchRequest.self, from: request, limit: maxBodyBytes)
        try await vault.updateCase(
            id, CaseUpdate(status: body.status, risk: body.risk, hold: body.hold), as: user,
            requestID: context.requestID)
        return try await caseResponse(id, user: user)
    }

    @Sendable func release(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        try await vault.release(id, as: user, requestID: context.requestID)
        return try await caseResponse(id, user: user)
    }

    /// The changed case as the user's listing shows it (metadata only).
    func caseResponse(_ id: ID, user: UnlockedUser) async throws -> Response {
        var q = CaseQuery()
        q.limit = 1000
        let summary = try await vault.listCases(q, as: user).first { $0.id == id }
        guard let summary else { return try JSONBody.response(["id": id.description]) }
        return try JSONBody.response(Self.json(summary))
    }

    @Sendable func note(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(TextRequest.self, from: request, limit: maxBodyBytes)
        let noteID = try await vault.addNote(id, text: body.text, as: user, requestID: context.requestID)
        return try JSONBody.response(["id": noteID.description], status: .created)
    }

    @Sendable func reply(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(TextRequest.self, from: request, limit: maxBodyBytes)
        guard body.text.count <= 5000 else {
            throw APIError.invalid("`text` is longer than LINE's 5,000-character message limit")
        }
        let waiting = try await vault.waitingSince(caseID: id)
        let replyID = try await vault.queueReply(caseID: id, text: body.text, as: user, requestID: context.requestID)
        if let waiting, let since = waiting.since {
            VaultMetrics.firstResponse(
                desk: waiting.desk, seconds: Double(max(0, vault.nowMilliseconds - since)) / 1000)
        }
        return try JSONBody.response(["id": replyID.description], status: .created)
    }

    @Sendable func requestAccess(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(ReasonRequest.self, from: request, limit: maxBodyBytes)
        let requestID = try await vault.requestAccess(id, reason: body.reason, as: user, requestID: context.requestID)
        return try JSONBody.response(["id": requestID.description], status: .created)
    }

    @Sendable func breakGlass(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(ReasonRequest.self, from: request, limit: maxBodyBytes)
        let expires = try await vault.breakGlass(id, reason: body.reason, as: user, requestID: context.requestID)
        return try JSONBody.response(["expires_at": Timestamp.format(expires)], status: .created)
    }

    static func json(_ s: CaseSummary) -> CaseJSON {
        CaseJSON(
            id: s.id.description, desk: s.desk, status: s.status, risk: s.risk, assignee: s.assignee, flags: s.flags,
            openedAt: Timestamp.format(s.openedAt), lastMessageAt: Timestamp.format(s.lastMessageAt),
            messageCount: s.messageCount, unread: s.unread, waitingSince: s.waitingSince.map(Timestamp.format),
            repeatContacts: s.repeatContacts)
    }

    /// The chunks of a transcript page rendered by `renderMessages`, in parallel (one child task per chunk), in order.
    static func renderChunks(_ page: TranscriptPage) async -> [[UInt8]] {
        await withTaskGroup(of: (Int, [UInt8]).self) { group in
            for (i, chunk) in page.chunks.enumerated() {
                group.addTask { (i, renderMessages(chunk)) }
            }
            var rendered = [[UInt8]](repeating: [], count: page.chunks.count)
            for await (i, bytes) in group { rendered[i] = bytes }
            return rendered
        }
    }

    /// The page `{"case_id":…,"messages":[…]}` from chunks already rendered by `renderMessages` (in parallel).
    static func transcriptResponse(caseID: ID, renderedChunks: [[UInt8]]) -> Response {
        var head = JSONWriter(capacity: 64)
        head.raw("{")
        head.key("case_id")
        head.string(caseID.description)
        head.raw(",")
        head.key("messages")
        head.raw("[")
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.bytes.count + renderedChunks.reduce(4) { $0 + $1.count + 1 })
        buffer.writeBytes(head.bytes)
        var first = true
        for chunk in renderedChunks where !chunk.isEmpty {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeBytes(chunk)
            first = false
        }
        buffer.writeString("]}")
        return JSONBody.response(buffer)
    }

    /// Messages as JSON objects separated by commas (no brackets), written directly (see JSONWriter); the keys of
    /// API.md, sorted.
    @Sendable static func renderMessages(_ messages: [TranscriptMessage]) -> [UInt8] {
        var w = JSONWriter(capacity: messages.count * 700)
        for (i, m) in messages.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{")
            w.key("author")
            w.string(m.author)
            w.raw(",")
            w.key("data")
            w.object(m.data)
            w.raw(",")
            w.key("delivery")
            w.string(m.delivery)
            w.raw(",")
            w.key("delivery_detail")
            w.string(m.deliveryDetail)
            w.raw(",")
            w.key("direction")
            w.string(m.direction)
            w.raw(",")
            w.key("id")
            w.id(m.id)
            w.raw(",")
            w.key("kind")
            w.string(m.kind)
            w.raw(",")
            w.key("retracted")
            w.bool(m.retracted)
            w.raw(",")
            w.key("sent_at")
            w.unescapedString(Timestamp.format(m.sentAt))  // digits and -T:.Z only
            w.raw(",")
            w.key("seq")
            w.int(m.seq)
            w.raw(",")
            w.key("text")
            if let text = m.text, m.textIsEscapeFree {
                w.unescapedString(text)
            } else {
                w.string(m.text)
            }
            w.raw("}")
        }
        return w.bytes
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
        switch try q.string("order") {
        case nil: query.triage = query.status == "open"
        case "triage": query.triage = true
        case "activity": query.triage = false
        default: throw APIError.invalid("`order` must be triage or activity")
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
        let cases = try await vault.listCases(query, as: user, requestID: context.requestID)
        return try JSONBody.response(["cases": cases.map(Self.json)])
    }

    @Sendable func assign(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(AssignRequest.self, from: request, limit: maxBodyBytes)
        try RelayController.check(body.assignee, "assignee", max: 64)
        try await vault.assign(
            caseID: id, to: body.assignee, reason: body.reason, as: user, requestID: context.requestID)
        return try JSONBody.response(["case_id": id.description, "assignee": body.assignee])
    }

    /// `GET /v1/cases/{id}/messages/{mid}/content`: the media bytes, decrypted chunk by chunk as they are sent.
    @Sendable func content(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "case id")
        let mid = try context.parameters.requireID("mid", "message id")
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
        let id = try context.parameters.requireID("id", "case id")
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
        let page = try await vault.transcriptPage(
            caseID: id, afterSeq: after, limit: limit, includeRetracted: includeRetracted, reason: reason, as: user,
            requestID: context.requestID)
        VaultMetrics.read()
        return Self.transcriptResponse(caseID: id, renderedChunks: await Self.renderChunks(page))
    }
}
