import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// Every route × every role: relay, counselor of the desk, counselor of another desk, supervisor, auditor, admin,
/// no token, expired session. Each role works on its own case so that only authorization differs; the test fails
/// on any unexpected allow (and on any unexpected refusal).
@Suite struct AuthorizationMatrixTests {
    enum Who: String, CaseIterable, Sendable {
        case relay, counselor, otherCounselor, supervisor, auditor, admin, none, expired
    }

    /// What a route needs from the fixture for one caller: a case (queue, or assigned to someone), etc.
    struct Setup: Sendable {
        let f: Fixture
        let caseID: ID
        let requestID: ID?
        let who: Who
    }

    struct Route: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let path: @Sendable (Setup) -> String
        let body: @Sendable (Setup) -> [String: any Sendable]?
        let caseAssignee: String?  // nil: a queue case
        let needsRequest: Bool
        let allowed: [Who: HTTPResponse.Status]
        let name: String

        var testDescription: String { name }
    }

    static let usernames: [Who: String] = [
        .counselor: "cou1", .otherCounselor: "cou2", .supervisor: "sup", .auditor: "aud", .admin: "adm",
        .expired: "cou4",
    ]

    static func route(
        _ method: HTTPRequest.Method, _ name: String, assignee: String? = nil, request: Bool = false,
        allowed: [Who: HTTPResponse.Status], path: String,
        body: @escaping @Sendable (Setup) -> [String: any Sendable]? = { _ in nil }
    ) -> Route {
        Route(
            method: method,
            path: { s in
                path.replacingOccurrences(of: "{case}", with: s.caseID.description)
                    .replacingOccurrences(of: "{request}", with: s.requestID?.description ?? "")
            },
            body: body, caseAssignee: assignee, needsRequest: request, allowed: allowed,
            name: "\(method.rawValue) \(name)")
    }

    static let staff: [Who] = [.counselor, .otherCounselor, .supervisor, .auditor, .admin]

    static let routes: [Route] = [
        route(
            .post, "/v1/messages", allowed: [.relay: .created], path: "/v1/messages",
            body: { s in
                [
                    "desk": "ijime", "channel": "line", "channel_user": "Umatrix-\(s.who)", "external_id": "m-\(s.who)",
                    "sent_at": "2026-11-22T00:00:00Z", "kind": "text", "text": "hello",
                ]
            }),
        route(
            .delete, "/v1/sessions/current", allowed: Dictionary(uniqueKeysWithValues: staff.map { ($0, .noContent) }),
            path: "/v1/sessions/current"),
        route(
            .put, "/v1/sessions/current/passphrase", allowed: Dictionary(uniqueKeysWithValues: staff.map { ($0, .ok) }),
            path: "/v1/sessions/current/passphrase",
            body: { s in
                let u = usernames[s.who] ?? "cou1"
                return ["passphrase": s.f.passphrases[u] ?? "", "new_passphrase": "a brand new passphrase"]
            }),
        route(
            .get, "/v1/cases", allowed: [.counselor: .ok, .otherCounselor: .ok, .supervisor: .ok],
            path: "/v1/cases"),
        route(
            .patch, "/v1/cases/{id}", assignee: "cou1", allowed: [.counselor: .ok, .supervisor: .ok],
            path: "/v1/cases/{case}", body: { _ in ["risk": "high"] }),
        route(
            .post, "/v1/cases/{id}/assign", allowed: [.counselor: .ok, .supervisor: .ok],
            path: "/v1/cases/{case}/assign", body: { _ in ["assignee": "cou1"] }),
        route(
            .post, "/v1/cases/{id}/release", assignee: "cou1", allowed: [.counselor: .ok, .supervisor: .ok],
            path: "/v1/cases/{case}/release"),
        route(.get, "/v1/cases/{id}/messages", allowed: [.counselor: .ok], path: "/v1/cases/{case}/messages"),
        route(
            .post, "/v1/cases/{id}/notes", assignee: "cou1", allowed: [.counselor: .created, .supervisor: .created],
            path: "/v1/cases/{case}/notes", body: { _ in ["text": "note"] }),
        route(
            .post, "/v1/cases/{id}/access-requests", assignee: "cou4", allowed: [.counselor: .created],
            path: "/v1/cases/{case}/access-requests", body: { _ in ["reason": "covering tonight"] }),
        route(
            .post, "/v1/cases/{id}/break-glass", allowed: [.supervisor: .created],
            path: "/v1/cases/{case}/break-glass", body: { _ in ["reason": "imminent risk reported"] }),
        route(.get, "/v1/access-requests", allowed: [.supervisor: .ok], path: "/v1/access-requests"),
        route(
            .post, "/v1/access-requests/{id}/approve", assignee: "cou4", request: true, allowed: [.supervisor: .ok],
            path: "/v1/access-requests/{request}/approve"),
        route(
            .post, "/v1/access-requests/{id}/decline", assignee: "cou4", request: true, allowed: [.supervisor: .ok],
            path: "/v1/access-requests/{request}/decline"),
        route(.get, "/v1/desks/{desk}/members", allowed: [.supervisor: .ok], path: "/v1/desks/ijime/members"),
        route(
            .post, "/v1/desks/{desk}/members/{u}/confirm", allowed: [.supervisor: .ok],
            path: "/v1/desks/ijime/members/cou3/confirm", body: { ["fingerprint": $0.f.fingerprints["cou3"]!] }
        ),
        route(.get, "/v1/admin/users", allowed: [.admin: .ok], path: "/v1/admin/users"),
        route(
            .post, "/v1/admin/users", allowed: [.admin: .created], path: "/v1/admin/users",
            body: { s in
                ["username": "new-\(s.who.rawValue.lowercased())", "role": "counselor"]
            }),
        route(
            .post, "/v1/admin/users/{u}/disable", allowed: [.admin: .ok], path: "/v1/admin/users/cou3/disable"),
        route(.get, "/v1/admin/desks", allowed: [.admin: .ok], path: "/v1/admin/desks"),
        route(
            .post, "/v1/admin/desks", allowed: [.admin: .created], path: "/v1/admin/desks",
            body: { s in
                [
                    "name": "desk-\(s.who.rawValue.lowercased())", "supervisor": "sup2",
                    "recovery_key": Data(s.f.recovery.publicKey).base64EncodedString(),
                ]
            }),
        route(
            .post, "/v1/admin/desks/{desk}/invites", allowed: [.admin: .created],
            path: "/v1/admin/desks/ijime/invites",
            body: { _ in ["username": "cou2"] }),
        route(
            .delete, "/v1/admin/desks/{desk}/members/{u}", allowed: [.admin: .ok],
            path: "/v1/admin/desks/gyakutai/members/cou2"),
        route(.get, "/v1/admin/tokens", allowed: [.admin: .ok], path: "/v1/admin/tokens"),
        route(
            .post, "/v1/admin/tokens", allowed: [.admin: .created], path: "/v1/admin/tokens",
            body: { s in
                ["name": "relay-\(s.who.rawValue.lowercased())", "desks": ["ijime"]]
            }),
        route(.delete, "/v1/admin/tokens/{name}", allowed: [.admin: .ok], path: "/v1/admin/tokens/relay1"),
    ]

    @Test("every route answers each role as expected", arguments: routes)
    func matrix(_ route: Route) async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        // The expired session first: unlock, then let it idle out before anyone else unlocks.
        let expired = try await f.vault.unlock(
            username: "cou4", passphrase: f.passphrases["cou4"]!, address: "t", requestID: "t")
        clock.advance(seconds: 16 * 60)
        var tokens: [Who: String] = [.relay: f.relayToken, .expired: expired.token]
        for who in Self.staff {
            let u = Self.usernames[who]!
            tokens[who] = try await f.vault.unlock(
                username: u, passphrase: f.passphrases[u]!, address: "t", requestID: "t"
            ).token
        }
        // Denied roles first, allowed ones last, each on its own case.
        let order = Who.allCases.sorted { (route.allowed[$0] == nil ? 0 : 1) < (route.allowed[$1] == nil ? 0 : 1) }
        var setups: [Who: Setup] = [:]
        for who in order {
            let r = try await f.vault.ingest(
                f.text("case of \(who)", user: "Uowner-\(who)"), relay: f.relay, requestID: "s")
            if let a = route.caseAssignee {
                let sup = try await f.unlock("sup")
                try await f.vault.assign(caseID: r.caseID, to: a, as: sup, requestID: "s")
            }
            var requestID: ID?
            if route.needsRequest {
                let cou1 = try await f.unlock("cou1")
                requestID = try await f.vault.requestAccess(r.caseID, reason: "cover", as: cou1, requestID: "s")
            }
            setups[who] = Setup(f: f, caseID: r.caseID, requestID: requestID, who: who)
        }
        let app = makeApp(f)
        let tokensByRole = tokens
        let setupsByRole = setups
        let results: [(Who, HTTPResponse.Status, String?)] = try await app.test(.router) { client in
            var out: [(Who, HTTPResponse.Status, String?)] = []
            for who in order {
                let s = setupsByRole[who]!
                let body = route.body(s)
                let r = try await client.call(
                    route.method, route.path(s), token: who == .none ? nil : tokensByRole[who], json: body,
                    contentType: body == nil ? nil : "application/json")
                out.append((who, r.status, r.errorCode))
            }
            return out
        }
        for (who, status, code) in results {
            if let expected = route.allowed[who] {
                #expect(
                    status == expected, "\(route.name) as \(who): expected \(expected), got \(status) \(code ?? "")")
            } else {
                let expected: HTTPResponse.Status = (who == .none || who == .expired) ? .unauthorized : .forbidden
                #expect(
                    status == expected, "\(route.name) as \(who): expected \(expected), got \(status) \(code ?? "")")
                #expect(code == (expected == .unauthorized ? "unauthenticated" : "forbidden"))
            }
        }
    }
}
