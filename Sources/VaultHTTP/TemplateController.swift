import Foundation
import Hummingbird
import VaultCore

/// A desk's reply templates: members read, supervisors write (API.md "Case records, triage and statistics").
struct TemplateController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct TemplateJSON: Codable {
        let id: String
        let title: String
        let text: String
    }

    struct Body: Decodable {
        let title: String
        let text: String
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/templates", use: list)
        router.post("/v1/desks/:desk/templates", use: create)
        router.put("/v1/desks/:desk/templates/:tid", use: replace)
        router.delete("/v1/desks/:desk/templates/:tid", use: delete)
    }

    static func json(_ t: ReplyTemplate) -> TemplateJSON {
        TemplateJSON(id: t.id.description, title: t.title, text: t.text)
    }

    func staff(_ request: Request, _ action: String, _ desk: String, _ context: VaultRequestContext) async throws
        -> UnlockedUser
    {
        try await RecordController(vault: vault, auth: auth, maxBodyBytes: maxBodyBytes).staff(
            request, action, "desk:\(desk)", context)
    }

    @Sendable func list(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "template.read", desk, context)
        let list = try await vault.templates(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(["templates": list.map(Self.json)])
    }

    @Sendable func create(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "template.write", desk, context)
        let body = try await JSONBody.decode(Body.self, from: request, limit: maxBodyBytes)
        let t = try await vault.writeTemplate(
            desk: desk, id: nil, title: body.title, text: body.text, as: user, requestID: context.requestID)
        return try JSONBody.response(t.map(Self.json), status: .created)
    }

    @Sendable func replace(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let id = try context.parameters.requireID("tid", "template id")
        let user = try await staff(request, "template.write", desk, context)
        let body = try await JSONBody.decode(Body.self, from: request, limit: maxBodyBytes)
        let t = try await vault.writeTemplate(
            desk: desk, id: id, title: body.title, text: body.text, as: user, requestID: context.requestID)
        return try JSONBody.response(t.map(Self.json))
    }

    @Sendable func delete(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let id = try context.parameters.requireID("tid", "template id")
        let user = try await staff(request, "template.write", desk, context)
        _ = try await vault.writeTemplate(
            desk: desk, id: id, title: nil, text: nil, delete: true, as: user, requestID: context.requestID)
        return Response(status: .noContent)
    }
}
