import Foundation
import Hummingbird
import VaultCore

/// Desk membership as supervisors see and confirm it.
struct DeskController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct MemberJSON: Encodable {
        let username: String
        let role: String
        let state: String
        let fingerprint: String?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(username, forKey: .username)
            try c.encode(role, forKey: .role)
            try c.encode(state, forKey: .state)
            try c.encode(fingerprint, forKey: .fingerprint)
        }

        enum CodingKeys: String, CodingKey { case username, role, state, fingerprint }
    }

    struct ConfirmRequest: Decodable {
        let fingerprint: String
    }

    /// `{"recovery_fingerprint"}` (JSONBody decodes snake_case keys).
    struct AcceptRequest: Decodable {
        let recoveryFingerprint: String
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/members", use: members)
        router.post("/v1/desks/:desk/members/:username/confirm", use: confirm)
        router.post("/v1/desks/:desk/accept", use: accept)
    }

    static func path(_ context: VaultRequestContext, _ name: String) throws -> String {
        guard let v = context.parameters.get(name), !v.isEmpty, v.utf8.count <= 64 else {
            throw APIError.invalid("the path needs a \(name)")
        }
        return v
    }

    @Sendable func members(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let desk = try Self.path(context, "desk")
        try await vault.requireSupervisor(of: desk, user, action: "member.list", requestID: context.requestID)
        let list = try await vault.members(desk: desk)
        return try JSONBody.response([
            "members": list.map {
                MemberJSON(username: $0.username, role: $0.role.rawValue, state: $0.state, fingerprint: $0.fingerprint)
            }
        ])
    }

    @Sendable func confirm(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let desk = try Self.path(context, "desk")
        let username = try Self.path(context, "username")
        let body = try await JSONBody.decode(ConfirmRequest.self, from: request, limit: maxBodyBytes)
        try await vault.confirm(
            desk: desk, username: username, fingerprint: body.fingerprint, supervisor: user,
            requestID: context.requestID)
        return try JSONBody.response(["desk": desk, "username": username, "state": "confirmed"])
    }

    @Sendable func accept(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let desk = try Self.path(context, "desk")
        let body = try await JSONBody.decode(AcceptRequest.self, from: request, limit: maxBodyBytes)
        try await vault.acceptDesk(
            name: desk, recoveryFingerprint: body.recoveryFingerprint, as: user, requestID: context.requestID)
        return try JSONBody.response(["desk": desk, "state": "accepted"])
    }
}
