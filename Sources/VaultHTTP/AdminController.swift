import Foundation
import Hummingbird
import VaultCore

/// Admin routes mirroring the CLI: accounts, desks, invites, relay tokens. Admins receive no key material and no
/// content; the enrollment code in a `POST /v1/admin/users` answer is the one they issue and hand over.
struct AdminController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct NewUser: Decodable {
        let username: String
        let role: String
    }

    struct NewDesk: Decodable {
        let name: String
        let supervisor: String
        let recoveryKey: String
        let retentionDays: Int?
    }

    struct Invite: Decodable {
        let username: String
    }

    struct NewToken: Decodable {
        let name: String
        let desks: [String]
    }

    struct UserJSON: Encodable {
        let username: String
        let role: String
        let state: String
        let fingerprint: String?
    }

    struct DeskJSON: Encodable {
        let name: String
        let retentionDays: Int
        let manifestVersion: Int
        let members: Int
    }

    struct TokenJSON: Encodable {
        let name: String
        let desks: [String]
        let createdAt: String
        let revoked: Bool
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/admin/users", use: users)
        router.post("/v1/admin/users", use: addUser)
        router.post("/v1/admin/users/:username/disable", use: disable)
        router.get("/v1/admin/desks", use: desks)
        router.post("/v1/admin/desks", use: addDesk)
        router.post("/v1/admin/desks/:desk/invites", use: invite)
        router.delete("/v1/admin/desks/:desk/members/:username", use: removeMember)
        router.get("/v1/admin/tokens", use: tokens)
        router.post("/v1/admin/tokens", use: issueToken)
        router.delete("/v1/admin/tokens/:name", use: revokeToken)
    }

    /// The admin behind the session; 403 for every other role, recorded as a denied `action` on `target`.
    func admin(_ request: Request, _ context: VaultRequestContext, _ action: String, _ target: String) async throws
        -> Caller
    {
        let user = try await auth.staff(request)
        return try await vault.requireAdmin(user, action, target, requestID: context.requestID)
    }

    @Sendable func users(_ request: Request, context: VaultRequestContext) async throws -> Response {
        _ = try await admin(request, context, "admin.read", "admin:users")
        let list = try await vault.listUsers()
        return try JSONBody.response([
            "users": list.map {
                UserJSON(username: $0.username, role: $0.role.rawValue, state: $0.state, fingerprint: $0.fingerprint)
            }
        ])
    }

    @Sendable func addUser(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let caller = try await admin(request, context, "user.add", "admin:users")
        let body = try await JSONBody.decode(NewUser.self, from: request, limit: maxBodyBytes)
        guard let role = Role(rawValue: body.role) else {
            throw APIError.invalid("`role` must be counselor, supervisor, auditor or admin")
        }
        let (code, expires) = try await vault.addUser(username: body.username, role: role, caller: caller)
        return try JSONBody.response(
            [
                "username": body.username, "role": role.rawValue, "enrollment_code": code,
                "expires_at": Timestamp.format(expires),
            ], status: .created)
    }

    @Sendable func disable(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let username = try DeskController.path(context, "username")
        let caller = try await admin(request, context, "user.disable", "user:\(username)")
        try await vault.disableUser(username: username, caller: caller)
        return try JSONBody.response(["username": username, "state": "disabled"])
    }

    @Sendable func desks(_ request: Request, context: VaultRequestContext) async throws -> Response {
        _ = try await admin(request, context, "admin.read", "admin:desks")
        let list = try await vault.listDesks()
        return try JSONBody.response([
            "desks": list.map {
                DeskJSON(
                    name: $0.name, retentionDays: $0.retentionDays, manifestVersion: $0.manifestVersion,
                    members: $0.members)
            }
        ])
    }

    @Sendable func addDesk(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let caller = try await admin(request, context, "desk.add", "admin:desks")
        let body = try await JSONBody.decode(NewDesk.self, from: request, limit: maxBodyBytes)
        guard let key = Data(base64Encoded: body.recoveryKey), key.count == 32 else {
            throw APIError.invalid("`recovery_key` must be the base64 X25519 public key from `recovery-key new`")
        }
        try await vault.addDesk(
            name: body.name, supervisor: body.supervisor, recoveryKey: Array(key), retentionDays: body.retentionDays,
            caller: caller)
        let desk = try await vault.listDesks().first { $0.name == body.name }
        return try JSONBody.response(
            DeskJSON(
                name: body.name, retentionDays: desk?.retentionDays ?? 0, manifestVersion: desk?.manifestVersion ?? 1,
                members: desk?.members ?? 1), status: .created)
    }

    @Sendable func invite(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let caller = try await admin(request, context, "member.invite", "desk:\(desk)")
        let body = try await JSONBody.decode(Invite.self, from: request, limit: maxBodyBytes)
        try await vault.invite(desk: desk, username: body.username, caller: caller)
        return try JSONBody.response(["desk": desk, "username": body.username, "state": "invited"], status: .created)
    }

    @Sendable func removeMember(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let username = try DeskController.path(context, "username")
        let caller = try await admin(request, context, "member.remove", "desk:\(desk) user:\(username)")
        try await vault.removeMember(desk: desk, username: username, caller: caller)
        return try JSONBody.response(["desk": desk, "username": username, "state": "removed"])
    }

    @Sendable func tokens(_ request: Request, context: VaultRequestContext) async throws -> Response {
        _ = try await admin(request, context, "admin.read", "admin:tokens")
        let list = try await vault.listTokens()
        return try JSONBody.response([
            "tokens": list.map {
                TokenJSON(
                    name: $0.name, desks: $0.desks, createdAt: Timestamp.format($0.createdAt), revoked: $0.revoked)
            }
        ])
    }

    @Sendable func issueToken(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let caller = try await admin(request, context, "token.issue", "admin:tokens")
        let body = try await JSONBody.decode(NewToken.self, from: request, limit: maxBodyBytes)
        let token = try await vault.issueRelayToken(name: body.name, desks: body.desks, caller: caller)
        return try JSONBody.response(["name": body.name, "token": token], status: .created)
    }

    @Sendable func revokeToken(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let name = try DeskController.path(context, "name")
        let caller = try await admin(request, context, "token.revoke", "token:\(name)")
        try await vault.revokeRelayToken(name: name, caller: caller)
        let t = try await vault.listTokens().first { $0.name == name }
        return try JSONBody.response(
            TokenJSON(
                name: name, desks: t?.desks ?? [], createdAt: Timestamp.format(t?.createdAt ?? 0), revoked: true))
    }
}
