import Hummingbird
import VaultCore

extension RelayController {
    struct ContentPendingResponse: Encodable {
        let contentPending: [WebhookResponse.Pending]
    }

    /// `GET /v1/line/{desk}/content-pending`: the desk's LINE media messages still without bytes (ids only), for a
    /// relay whose content queue a restart emptied.
    @Sendable func contentPending(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let relay = try await auth.relay(request)
        guard let desk = context.parameters.get("desk") else { throw APIError.invalid("missing desk in the path") }
        try Self.check(desk, "desk", max: 64)
        let items = try await vault.pendingContent(desk: desk, relay: relay, requestID: context.requestID)
        return try JSONBody.response(
            ContentPendingResponse(
                contentPending: items.map {
                    .init(lineMessageId: $0.lineMessageID, messageId: $0.messageID.description)
                }
            ))
    }
}
