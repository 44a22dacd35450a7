import Foundation
import Hummingbird
import VaultCore

/// A desk's triage keyword lists (API.md "Case records, triage and statistics"): supervisors only, sealed at rest.
struct TriageController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct Lists: Codable {
        let imminent: [String]?
        let high: [String]?
        let medium: [String]?
    }

    /// `{"keywords": {"imminent": [string], "high": [string], "medium": [string]}}`.
    struct Body: Codable {
        let keywords: Lists
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/triage", use: get)
        router.put("/v1/desks/:desk/triage", use: put)
    }

    static func json(_ k: TriageKeywords) -> Body {
        Body(keywords: Lists(imminent: k.imminent, high: k.high, medium: k.medium))
    }

    @Sendable func get(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await RecordController(vault: vault, auth: auth, maxBodyBytes: maxBodyBytes).staff(
            request, "triage.read", "desk:\(desk)", context)
        let k = try await vault.triageKeywords(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(Self.json(k))
    }

    @Sendable func put(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await RecordController(vault: vault, auth: auth, maxBodyBytes: maxBodyBytes).staff(
            request, "triage.change", "desk:\(desk)", context)
        let body = try await JSONBody.decode(Body.self, from: request, limit: maxBodyBytes)
        let k = TriageKeywords(
            imminent: body.keywords.imminent ?? [], high: body.keywords.high ?? [], medium: body.keywords.medium ?? [])
        try await vault.setTriageKeywords(k, desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(Self.json(k))
    }
}
