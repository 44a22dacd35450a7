import Foundation
import Hummingbird
import VaultCore

/// Bearer authentication: relay tokens (`cvr_…`, stored hashed) and staff session tokens (`cvs_…`, in memory).
struct Auth: Sendable {
    let vault: Vault

    static func bearer(_ request: Request) -> String? {
        guard let h = request.headers[.authorization], h.count < 512 else { return nil }
        let parts = h.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    /// The relay behind the token. 401 without a valid token; 403 for a valid staff token.
    func relay(_ request: Request) async throws -> RelayPrincipal {
        guard let token = Self.bearer(request) else { throw APIError.unauthenticated }
        if let relay = try await vault.authenticateRelay(token) { return relay }
        if vault.sessions.authenticate(token) != nil { throw APIError.forbidden("this route is for relay tokens only") }
        throw APIError.unauthenticated
    }

    /// The unlocked staff user behind the token. 401 without a live session; 403 for a relay token.
    func staff(_ request: Request) async throws -> UnlockedUser {
        guard let token = Self.bearer(request) else { throw APIError.unauthenticated }
        if let user = vault.sessions.authenticate(token) { return user }
        if try await vault.authenticateRelay(token) != nil {
            throw APIError.forbidden("relay tokens cannot use staff routes; the relay is write-only")
        }
        throw APIError(
            .unauthorized, "unauthenticated", "the session is missing or expired; unlock again with POST /v1/sessions")
    }
}
