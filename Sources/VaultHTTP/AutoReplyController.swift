import Foundation
import Hummingbird
import NIOCore
import VaultCore

/// A desk's automatic messages (API.md `GET`/`PUT /v1/desks/{desk}/auto-replies`): members read, supervisors set.
struct AutoReplyController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/auto-replies", use: get)
        router.put("/v1/desks/:desk/auto-replies", use: put)
    }

    func staff(_ request: Request, _ action: String, _ desk: String, _ context: VaultRequestContext) async throws
        -> UnlockedUser
    {
        try await RecordController(vault: vault, auth: auth, maxBodyBytes: maxBodyBytes).staff(
            request, action, "desk:\(desk)", context)
    }

    @Sendable func get(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "autoreply.read", desk, context)
        let s = try await vault.autoReplies(desk: desk, as: user, requestID: context.requestID)
        return JSONBody.response(ByteBuffer(bytes: s.publicJSON))
    }

    @Sendable func put(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "autoreply.change", desk, context)
        let raw = try await JSONBody.raw(from: request, limit: maxBodyBytes)
        let settings: AutoReplySettings
        do {
            settings = try AutoReplySettings(json: raw)
        } catch let e as VaultError {
            throw APIError.invalid(e.message)
        }
        try await vault.setAutoReplies(settings, desk: desk, as: user, requestID: context.requestID)
        return JSONBody.response(ByteBuffer(bytes: settings.publicJSON))
    }
}
