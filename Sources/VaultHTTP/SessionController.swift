import Foundation
import Hummingbird
import VaultCore

/// Enrollment and sessions (unlock, logout).
struct SessionController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int
    let clientAddresses: ClientAddressResolver

    /// The address the guess throttle counts this request under.
    func clientAddress(_ request: Request, _ context: VaultRequestContext) -> String {
        clientAddresses.resolve(
            peer: context.peerAddress, forwardedFor: request.headers[values: ClientAddressResolver.forwardedFor])
    }

    struct EnrollRequest: Decodable {
        let username: String
        let code: String
        let passphrase: String
    }

    struct UnlockRequest: Decodable {
        let username: String
        let passphrase: String
    }

    struct UnlockResponse: Encodable {
        struct User: Encodable {
            let username: String
            let role: String
        }
        let token: String
        let expiresAt: String
        let user: User
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/v1/enroll", use: enroll)
        router.post("/v1/sessions", use: unlock)
        router.delete("/v1/sessions/current", use: logout)
        router.put("/v1/sessions/current/passphrase", use: changePassphrase)
    }

    struct PassphraseChange: Decodable {
        let passphrase: String
        let newPassphrase: String
    }

    @Sendable func changePassphrase(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let body = try await JSONBody.decode(PassphraseChange.self, from: request, limit: maxBodyBytes)
        try await vault.changePassphrase(
            user, current: body.passphrase, new: body.newPassphrase, address: clientAddress(request, context),
            requestID: context.requestID)
        return try JSONBody.response(["username": user.username, "passphrase": "changed"])
    }

    @Sendable func enroll(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(EnrollRequest.self, from: request, limit: maxBodyBytes)
        try RelayController.check(body.username, "username", max: 64)
        try RelayController.check(body.code, "code", max: 64)
        let fingerprint = try await vault.enroll(
            username: body.username, code: body.code, passphrase: body.passphrase,
            address: clientAddress(request, context), requestID: context.requestID)
        return try JSONBody.response(["fingerprint": fingerprint], status: .created)
    }

    @Sendable func unlock(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(UnlockRequest.self, from: request, limit: maxBodyBytes)
        try RelayController.check(body.username, "username", max: 64)
        guard !body.passphrase.isEmpty, body.passphrase.utf8.count <= 1024 else {
            throw APIError.invalid("`passphrase` must be 1–1024 bytes")
        }
        let grant = try await vault.unlock(
            username: body.username, passphrase: body.passphrase, address: clientAddress(request, context),
            requestID: context.requestID)
        return try JSONBody.response(
            UnlockResponse(
                token: grant.token, expiresAt: Timestamp.format(grant.expiresAt),
                user: .init(username: grant.username, role: grant.role.rawValue)),
            status: .created)
    }

    @Sendable func logout(_ request: Request, context: VaultRequestContext) async throws -> Response {
        _ = try await auth.staff(request)
        if let token = Auth.bearer(request) { vault.sessions.end(token) }
        return Response(status: .noContent)
    }
}
