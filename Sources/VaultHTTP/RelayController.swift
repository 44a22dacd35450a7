import Foundation
import Hummingbird
import VaultCore

/// Relay routes: the vault's only writer, which can never read anything back.
struct RelayController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

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

        struct SealedForm: Decodable {
            let messageId: String
        }
    }

    struct MessageResponse: Encodable {
        let messageID: String
        let caseID: String
        let duplicate: Bool
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/v1/messages", use: postMessage)
    }

    @Sendable func postMessage(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        let body = try await JSONBody.decode(MessageRequest.self, from: request, limit: maxBodyBytes)
        if body.sealed != nil {
            throw APIError.invalid("the sealed form is not enabled on this vault yet; send the plain text form")
        }
        try Self.check(body.desk, "desk", max: 64)
        try Self.check(body.channelUser, "channel_user", max: 256)
        try Self.check(body.externalId, "external_id", max: 256)
        guard body.channel == "line" else { throw APIError.invalid("`channel` must be \"line\"") }
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
        return try JSONBody.response(
            MessageResponse(
                messageID: result.messageID.description, caseID: result.caseID.description,
                duplicate: result.duplicate),
            status: result.duplicate ? .ok : .created)
    }

    static func check(_ value: String, _ name: String, max: Int) throws {
        guard !value.isEmpty else { throw APIError.invalid("`\(name)` must not be empty") }
        guard value.utf8.count <= max else { throw APIError.invalid("`\(name)` is longer than \(max) bytes") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw APIError.invalid("`\(name)` must not contain control characters")
        }
    }
}
