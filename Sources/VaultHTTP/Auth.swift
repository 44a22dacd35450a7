import Foundation
import Hummingbird
import VaultCore

/// Bearer authentication: relay tokens (`cvr_…`, stored hashed) and staff session tokens (`cvs_…`, in memory).
struct Auth: Sendable {
    let vault: Vault

    static func bearer(_ request: Request) -> String? {
        guard let h = request.headers[.authorization], h.utf8.count < 512 else { return nil }
        let u = h.utf8
        guard u.count > 7, let space = u.firstIndex(of: UInt8(ascii: " ")),
            u.distance(from: u.startIndex, to: space) == 6,
            u[..<space].elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 })
        else { return nil }
        // The token between the blanks (spaces, tabs) around it, as one contiguous slice.
        let isBlank = { (b: UInt8) in b == UInt8(ascii: " ") || b == 9 }
        var start = u.index(after: space)
        var end = u.endIndex
        while start < end, isBlank(u[start]) { u.formIndex(after: &start) }
        while end > start, isBlank(u[u.index(before: end)]) { u.formIndex(before: &end) }
        return String(h[start..<end])
    }

    /// The relay behind the token. 401 without a valid token; 403 for a valid staff token.
    func relay(_ request: Request) async throws -> RelayPrincipal {
        guard let token = Self.bearer(request) else { throw APIError.unauthenticated }
        if let relay = try await vault.authenticateRelay(token) { return relay }
        if vault.sessions.authenticate(token) != nil { throw APIError.forbidden("this route is for relay tokens only") }
        throw APIError.unauthenticated
    }

    /// The unlocked staff user behind the token. 401 without a live session (or once the account is disabled,
    /// even by another process); 403 for a relay token.
    func staff(_ request: Request) async throws -> UnlockedUser {
        guard let token = Self.bearer(request) else { throw APIError.unauthenticated }
        if let user = try await vault.authenticateSession(token) { return user }
        if try await vault.authenticateRelay(token) != nil {
            throw APIError.forbidden("relay tokens cannot use staff routes; the relay is write-only")
        }
        throw APIError(
            .unauthorized, "unauthenticated", "the session is missing or expired; unlock again with POST /v1/sessions")
    }
}
