import Foundation
import HTTPTypes
import Hummingbird
import VaultCore
import VaultCrypto

/// Relay routes: the vault's only writer, which can never read anything back.
struct RelayController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int
    let maxContentBytes: Int

    struct MessageRequest: Decodable {
        let desk: String
        let channel: String
        let channelUser: String
        let externalId: String
        let sentAt: String?
        let kind: String?
        let text: String?
        let caseId: String?
        let sealed: SealedForm?
        /// The sealed form's optional risk hint (`imminent`, `high`, `medium`): raises the case's risk.
        var triage: String? = nil

        /// The plain form from a flat all-string object, the relay's hot path (`FlatJSON.strings`); nil for any
        /// other body, which then goes through JSONDecoder (and gets its error message from there).
        static func fast(_ body: [UInt8]) -> MessageRequest? {
            guard let f = FlatJSON.strings(in: body), let desk = f["desk"], let channel = f["channel"],
                let channelUser = f["channel_user"], let externalId = f["external_id"], f["sealed"] == nil
            else { return nil }
            return MessageRequest(
                desk: desk, channel: channel, channelUser: channelUser, externalId: externalId, sentAt: f["sent_at"],
                kind: f["kind"], text: f["text"], caseId: f["case_id"], sealed: nil)
        }

        struct SealedForm: Decodable {
            let messageId: String
            let keyId: String
            let sentAt: String
            let kind: String
            let body: String
            let key: String
            /// 1 (the default) or 2 (schema/FORMAT.md §15).
            let version: Int?
            /// Version 2: base64 of the relay's 32-byte sender session public key.
            let sessionPublicKey: String?
        }
    }

    struct MessageResponse: Encodable {
        let messageID: String
        let caseID: String
        let duplicate: Bool
    }

    /// The answer to a stored message, written directly (the bytes `JSONBody.response` would give: sorted keys).
    static func stored(_ r: IngestResult) -> Response {
        var w = JSONWriter(capacity: 128)
        w.raw("{")
        w.key("case_id")
        w.id(r.caseID)
        w.raw(",")
        w.key("duplicate")
        w.bool(r.duplicate)
        w.raw(",")
        w.key("message_id")
        w.id(r.messageID)
        w.raw("}")
        return JSONBody.response(ByteBuffer(bytes: w.bytes), status: r.duplicate ? .ok : .created)
    }

    struct WebhookResponse: Encodable {
        struct Pending: Encodable {
            let lineMessageId: String
            let messageId: String
        }
        let accepted: Int
        let duplicates: Int
        let ignored: Int
        let contentPending: [Pending]
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/v1/messages", use: postMessage)
        router.post("/v1/line/:desk/webhook", use: lineWebhook)
        router.get("/v1/line/:desk/content-pending", use: contentPending)
        router.post("/v1/intake/route", use: route)
        router.put("/v1/messages/:id/content", use: putContent)
        router.delete("/v1/messages/:id/content", use: deleteContent)
        router.get("/v1/relay/outbox", use: outbox)
        router.post("/v1/relay/outbox/:id/ack", use: ack)
    }

    struct OutboxJSON: Encodable {
        struct Item: Encodable {
            let id: String
            let caseId: String
            let desk: String
            let createdAt: String
            let box: String
        }
        let items: [Item]
    }

    struct AckRequest: Decodable {
        let status: String
        let detail: String?
    }

    /// `PUT /v1/messages/{id}/content`: the media bytes, streamed into secretstream chunks as they arrive.
    @Sendable func putContent(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let id = try context.parameters.requireID("id", "message id")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxContentBytes {
            throw APIError(
                .contentTooLarge, "payload_too_large", "the content exceeds the limit of \(maxContentBytes) bytes")
        }
        let upload = try await vault.beginContent(
            messageID: id, contentType: request.headers[.contentType] ?? "", limit: maxContentBytes, relay: relay,
            requestID: context.requestID)
        let size: Int
        do {
            for try await buffer in request.body {
                try await upload.append(Array(buffer: buffer))
            }
            size = try await upload.finish()
        } catch {
            await upload.abort()
            throw error
        }
        return try JSONBody.response(["message_id": id.description, "size": String(size)], status: .created)
    }

    /// `DELETE /v1/messages/{id}/content`: LINE no longer has the content; the message stays, marked without it.
    @Sendable func deleteContent(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let id = try context.parameters.requireID("id", "message id")
        try await vault.markContentGone(messageID: id, relay: relay, requestID: context.requestID)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    /// `GET /v1/relay/outbox?desk=D&lease=SECONDS`: replies waiting (of desk D, or of all the token's desks), leased
    /// to this caller.
    @Sendable func outbox(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let query = Query(request: request)
        let lease = try query.int("lease", range: 1...600) ?? 60
        let desk = try query.string("desk", maxLength: 64)
        if let desk { try Self.check(desk, "desk", max: 64) }
        let items = try await vault.leaseOutbox(
            relay: relay, desk: desk, leaseSeconds: lease, requestID: context.requestID)
        return try JSONBody.response(
            OutboxJSON(
                items: items.map {
                    .init(
                        id: $0.id.description, caseId: $0.caseID.description, desk: $0.desk,
                        createdAt: Timestamp.format($0.createdAt),
                        box: Data($0.box).base64EncodedString())
                }))
    }

    /// `POST /v1/relay/outbox/{id}/ack`: delivered or failed, from the lease holder only.
    @Sendable func ack(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let id = try context.parameters.requireID("id", "outbox item id")
        let body = try await JSONBody.decode(AckRequest.self, from: request, limit: maxBodyBytes)
        guard body.status == "delivered" || body.status == "failed" else {
            throw APIError.invalid("`status` must be delivered or failed")
        }
        try await vault.ackOutbox(
            id: id, delivered: body.status == "delivered", detail: body.detail, relay: relay,
            requestID: context.requestID)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    /// `POST /v1/line/{desk}/webhook`: LINE's body byte for byte, checked against `X-Line-Signature`.
    @Sendable func lineWebhook(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        guard let desk = context.parameters.get("desk") else { throw APIError.invalid("missing desk in the path") }
        try Self.check(desk, "desk", max: 64)
        let body = try await JSONBody.raw(from: request, limit: maxBodyBytes)
        let signature = request.headers[HTTPField.Name("X-Line-Signature")!]
        let result = try await vault.lineWebhook(
            desk: desk, body: body, signature: signature, relay: relay, requestID: context.requestID)
        return try JSONBody.response(
            WebhookResponse(
                accepted: result.accepted, duplicates: result.duplicates, ignored: result.ignored,
                contentPending: result.contentPending.map {
                    .init(lineMessageId: $0.lineMessageID, messageId: $0.messageID.description)
                }))
    }

    @Sendable func postMessage(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let raw = try await JSONBody.raw(from: request, limit: maxBodyBytes)
        let body = try MessageRequest.fast(raw) ?? JSONBody.decode(MessageRequest.self, from: Data(raw))
        try Self.check(body.desk, "desk", max: 64)
        try Self.check(body.channelUser, "channel_user", max: 256)
        try Self.check(body.externalId, "external_id", max: 256)
        guard body.channel == "line" else { throw APIError.invalid("`channel` must be \"line\"") }
        if let sealed = body.sealed { return try await postSealed(body, sealed, relay: relay, context: context) }
        guard body.kind == "text" else { throw APIError.invalid("`kind` must be \"text\" for the plain form") }
        guard let text = body.text, !text.isEmpty else {
            throw APIError.invalid("missing field `text` (a non-empty string)")
        }
        guard let sentAtString = body.sentAt else { throw APIError.invalid("missing field `sent_at`") }
        guard let sentAt = Timestamp.parse(sentAtString) else {
            throw APIError.invalid("`sent_at` must be an RFC 3339 time with offset, at most millisecond precision")
        }
        let started = ContinuousClock.now
        let result = try await vault.ingest(
            InboundText(
                desk: body.desk, channel: body.channel, channelUser: body.channelUser, externalID: body.externalId,
                sentAt: sentAt, text: text),
            relay: relay, requestID: context.requestID)
        VaultMetrics.ingest(ContinuousClock.now - started, duplicate: result.duplicate)
        return Self.stored(result)
    }

    /// The `sealed` form (schema/FORMAT.md §15): the relay's own envelope, stored unopened.
    func postSealed(
        _ body: MessageRequest, _ sealed: MessageRequest.SealedForm, relay: RelayPrincipal,
        context: VaultRequestContext
    ) async throws -> Response {
        guard body.text == nil, body.kind == nil, body.sentAt == nil else {
            throw APIError.invalid("the sealed form carries `kind` and `sent_at` inside `sealed` and no `text`")
        }
        guard let caseRaw = body.caseId, let caseID = ID(caseRaw) else {
            throw APIError.invalid("the sealed form needs `case_id` (a UUID from /v1/intake/route)")
        }
        guard let messageID = ID(sealed.messageId) else { throw APIError.invalid("`sealed.message_id` must be a UUID") }
        guard sealed.keyId.count == 32, let keyID = Hex.decode(sealed.keyId) else {
            throw APIError.invalid("`sealed.key_id` must be 32 lowercase hex digits")
        }
        guard let sentAt = Timestamp.parse(sealed.sentAt) else {
            throw APIError.invalid(
                "`sealed.sent_at` must be an RFC 3339 time with offset, at most millisecond precision")
        }
        guard let envelopeBody = Data(base64Encoded: sealed.body), let key = Data(base64Encoded: sealed.key) else {
            throw APIError.invalid("`sealed.body` and `sealed.key` must be base64")
        }
        var sessionPublicKey: [UInt8]?
        switch sealed.version ?? 1 {
        case 1:
            guard sealed.sessionPublicKey == nil else {
                throw APIError.invalid("`sealed.session_public_key` belongs to version 2; send `\"version\": 2`")
            }
        case 2:
            guard let raw = sealed.sessionPublicKey, let decoded = Data(base64Encoded: raw), decoded.count == 32 else {
                throw APIError.invalid("version 2 needs `sealed.session_public_key`: base64 of a 32-byte X25519 key")
            }
            sessionPublicKey = Array(decoded)
        default:
            throw APIError.invalid("`sealed.version` must be 1 or 2")
        }
        let result = try await vault.ingestSealed(
            SealedInbound(
                desk: body.desk, channelUser: body.channelUser, externalID: body.externalId, caseID: caseID,
                messageID: messageID, keyID: keyID, sentAt: sentAt, kind: sealed.kind, body: Array(envelopeBody),
                key: Array(key), sessionPublicKey: sessionPublicKey, triage: body.triage),
            relay: relay, requestID: context.requestID)
        return try JSONBody.response(
            MessageResponse(
                messageID: result.messageID.description, caseID: result.caseID.description,
                duplicate: result.duplicate),
            status: result.duplicate ? .ok : .created)
    }

    struct RouteRequest: Decodable {
        let desk: String
        let channelUser: String
    }

    struct RouteResponse: Encodable {
        let caseId: String
        let keyId: String
        let publicKey: String
    }

    /// `POST /v1/intake/route`: the user's open case and its current epoch key.
    @Sendable func route(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let body = try await JSONBody.decode(RouteRequest.self, from: request, limit: maxBodyBytes)
        try Self.check(body.desk, "desk", max: 64)
        try Self.check(body.channelUser, "channel_user", max: 256)
        let r = try await vault.routeIntake(
            desk: body.desk, channelUser: body.channelUser, relay: relay, requestID: context.requestID)
        return try JSONBody.response(
            RouteResponse(
                caseId: r.caseID.description, keyId: r.keyID.hex,
                publicKey: Data(r.publicKey).base64EncodedString()))
    }

    static func check(_ value: String, _ name: String, max: Int) throws {
        guard !value.isEmpty else { throw APIError.invalid("`\(name)` must not be empty") }
        guard value.utf8.count <= max else { throw APIError.invalid("`\(name)` is longer than \(max) bytes") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw APIError.invalid("`\(name)` must not contain control characters")
        }
    }
}
