import Foundation
import HTTPTypes
import Hummingbird
import VaultCore
import VaultCrypto
import VaultHTTP

/// The signed-in user behind a console request: the API's server-side session (same store, same unlocked keys),
/// found through an HttpOnly cookie instead of a bearer header.
struct SignedIn: Sendable {
    let user: UnlockedUser
    let token: String

    /// The CSRF token of this session: a hash of the session token under a fixed label, so it names the session
    /// without revealing its token, and dies with it.
    var csrf: String { ConsoleAuth.csrf(for: token) }
}

/// Errors the console middleware turns into redirects or plain statuses.
enum ConsoleError: Error {
    /// No live session: pages redirect (303) to the login page; `/console/events` answers 401.
    case signIn
    /// A state-changing request without a valid CSRF token (403).
    case csrf
    /// A console page the user may not see (403).
    case forbidden
    /// A bad form (400) with a catalogue key saying what is wrong.
    case invalid(String)
    case notFound
}

struct ConsoleAuth: Sendable {
    static let cookieName = "cv_session"
    static let languageCookie = "cv_lang"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    let vault: Vault
    let clientAddresses: ClientAddressResolver

    static func csrf(for token: String) -> String {
        Base64URL.encode(
            Hashing.blake2b(parts: [Array("consultvault console csrf v1".utf8), Array(token.utf8)], outputLength: 24))
    }

    /// The session token in the request's cookie, if any.
    static func token(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.hasPrefix("cvs_"), value.utf8.count < 200 else {
            return nil
        }
        return value
    }

    /// The live session behind the cookie.
    /// - Throws: `ConsoleError.signIn` without one (missing, expired, logged out, account disabled).
    func user(_ request: Request) async throws -> SignedIn {
        guard let token = Self.token(request), let user = try await vault.authenticateSession(token) else {
            throw ConsoleError.signIn
        }
        return SignedIn(user: user, token: token)
    }

    /// The session, after checking the CSRF token of a state-changing request (form field `csrf` or header
    /// `X-CSRF-Token`).
    /// - Throws: `ConsoleError.signIn` without a session, `ConsoleError.csrf` without a matching token.
    func userChecked(_ request: Request, form: Form) async throws -> SignedIn {
        let signed = try await user(request)
        guard let sent = form["csrf"] ?? request.headers[Self.csrfHeader],
            Self.constantTimeEqual(Array(sent.utf8), Array(signed.csrf.utf8))
        else { throw ConsoleError.csrf }
        return signed
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// The address the unlock throttle counts this request under (the API's resolver).
    func clientAddress(_ request: Request, _ context: VaultRequestContext) -> String {
        clientAddresses.resolve(
            peer: context.peerAddress, forwardedFor: request.headers[values: ClientAddressResolver.forwardedFor])
    }

    /// Whether the client reached us over HTTPS: TLS itself is terminated by a trusted proxy that says so in
    /// `X-Forwarded-Proto` (serve speaks plain HTTP).
    func isHTTPS(_ request: Request, _ context: VaultRequestContext) -> Bool {
        guard clientAddresses.isTrustedProxy(peer: context.peerAddress),
            let proto = request.headers[Self.forwardedProto]
        else { return false }
        return proto.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) == "https" } ?? false
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/console`, Secure over HTTPS.
    static func cookie(_ name: String, _ value: String, maxAge: Int?, secure: Bool, httpOnly: Bool = true) -> String {
        var s = "\(name)=\(value); Path=/console; SameSite=Strict"
        if let maxAge { s += "; Max-Age=\(maxAge)" }
        if httpOnly { s += "; HttpOnly" }
        if secure { s += "; Secure" }
        return s
    }
}
