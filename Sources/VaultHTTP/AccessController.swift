import Foundation
import Hummingbird
import VaultCore

/// Access requests, as supervisors decide them.
struct AccessController {
    let vault: Vault
    let auth: Auth

    struct RequestJSON: Encodable {
        let id: String
        let caseID: String
        let desk: String
        let requester: String
        let state: String
        let createdAt: String
        let reason: String?
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/access-requests", use: list)
        router.post("/v1/access-requests/:id/approve", use: approve)
        router.post("/v1/access-requests/:id/decline", use: decline)
    }

    @Sendable func list(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let desk = try Query(request: request).string("desk", maxLength: 64)
        let items = try await vault.listAccessRequests(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response([
            "requests": items.map {
                RequestJSON(
                    id: $0.id.description, caseID: $0.caseID.description, desk: $0.desk, requester: $0.requester,
                    state: $0.state, createdAt: Timestamp.format($0.createdAt), reason: $0.reason)
            }
        ])
    }

    @Sendable func approve(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "request id")
        let expires = try await vault.decideAccessRequest(
            id, approve: true, as: user, auditRequestID: context.requestID)
        return try JSONBody.response([
            "id": id.description, "state": "approved", "expires_at": expires.map(Timestamp.format) ?? "",
        ])
    }

    @Sendable func decline(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "request id")
        try await vault.decideAccessRequest(id, approve: false, as: user, auditRequestID: context.requestID)
        return try JSONBody.response(["id": id.description, "state": "declined"])
    }
}
