import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// The guess throttle over HTTP (red-team findings H5, M7, L3, L4): unlock, enroll and passphrase change, the
/// client address behind a trusted proxy, and spoofed `X-Forwarded-For`.
@Suite struct GuessThrottleTests {
    static let xff = HTTPField.Name("X-Forwarded-For")!

    static func unlock(
        _ client: some TestClientProtocol, _ user: String, _ passphrase: String, forwardedFor: String? = nil
    ) async throws -> APIResponse {
        var headers: HTTPFields = [:]
        if let forwardedFor { headers[xff] = forwardedFor }
        return try await client.call(
            .post, "/v1/sessions", json: ["username": user, "passphrase": passphrase], headers: headers)
    }

    @Test("50 parallel wrong unlocks from one address: at most 5 answered 401, the rest 429 with Retry-After")
    func parallelUnlocks() async throws {
        // A clock that stands still: a slow machine must not let the 2 s delay after the fifth failure pass.
        let f = try await Fixture.make(clock: ManualClock().clock)
        defer { f.remove() }
        let before = f.vault.passphraseDerivations
        try await makeApp(f).test(.router) { client in
            let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for i in 0..<50 { group.addTask { try await Self.unlock(client, "cou1", "wrong guess \(i)") } }
                var all: [APIResponse] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(answers.filter { $0.status == .unauthorized }.count <= 5)
            let limited = answers.filter { $0.status == .tooManyRequests }
            #expect(limited.count >= 45)
            #expect(limited.allSatisfy { $0.headers[.retryAfter] != nil && $0.errorCode == "rate_limited" })
        }
        #expect(f.vault.passphraseDerivations - before <= 5)
    }

    @Test("enroll guessing is throttled before any hashing; the right code works once the delay has passed")
    func enrollGuessing() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let (code, _) = try await f.vault.addUser(username: "newbie", role: .counselor, caller: .cli())
        try await makeApp(f).test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<8 {
                let r = try await client.call(
                    .post, "/v1/enroll",
                    json: [
                        "username": "newbie", "code": "AAAAA-BBBBB-CCCCC-DDDD\(i)", "passphrase": "a long passphrase",
                    ])
                statuses.append(r.status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            #expect(statuses.suffix(3).allSatisfy { $0 == .tooManyRequests })
            clock.advance(seconds: 60)
            let ok = try await client.call(
                .post, "/v1/enroll", json: ["username": "newbie", "code": code, "passphrase": "a long passphrase"])
            #expect(ok.status == .created)
        }
    }

    @Test("passphrase change checks of the current passphrase are throttled; the right one works after the delay")
    func passphraseChangeGuessing() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "cou1")
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<7 {
                let r = try await client.call(
                    .put, "/v1/sessions/current/passphrase", token: token,
                    json: ["passphrase": "guess \(i)", "new_passphrase": "a new passphrase"])
                statuses.append(r.status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests })
            clock.advance(seconds: 60)
            let ok = try await client.call(
                .put, "/v1/sessions/current/passphrase", token: token,
                json: ["passphrase": f.passphrases["cou1"]!, "new_passphrase": "a new passphrase"])
            #expect(ok.status == .ok)
        }
    }

    @Test("X-Forwarded-For from a peer that is not a trusted proxy is ignored")
    func spoofedForwardedFor() async throws {
        // A standing clock: on a loaded machine seven Argon2id runs may outlast the delay after the fifth failure.
        let f = try await Fixture.make(clock: ManualClock().clock)
        defer { f.remove() }
        try await makeApp(f).test(.live) { client in
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<7 {
                statuses.append(try await Self.unlock(client, "cou1", "wrong \(i)", forwardedFor: "10.1.2.\(i)").status)
            }
            #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests })
            // Another user from the same peer is not affected.
            #expect(try await Self.unlock(client, "sup", f.passphrases["sup"]!).status == .created)
        }
    }

    @Test("behind a trusted proxy each client is throttled on its own address: the real user still logs in")
    func trustedProxy() async throws {
        // A standing clock: on a loaded machine seven Argon2id runs may outlast the delay after the fifth failure.
        let f = try await Fixture.make(clock: ManualClock().clock)
        defer { f.remove() }
        var configuration = ServeConfiguration()
        try configuration.setTrustedProxies(["127.0.0.1", "::1"])
        try await makeApp(f, configuration: configuration).test(.live) { client in
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<7 {
                // The attacker writes the left part; the proxy appends the address it saw.
                let r = try await Self.unlock(client, "cou1", "wrong \(i)", forwardedFor: "10.9.9.\(i), 198.51.100.7")
                statuses.append(r.status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests })
            let real = try await Self.unlock(client, "cou1", f.passphrases["cou1"]!, forwardedFor: "198.51.100.8")
            #expect(real.status == .created)
        }
    }

    @Test("the client address: the peer unless it is a trusted proxy, then the right-most untrusted hop")
    func resolver() throws {
        let none = ClientAddressResolver()
        #expect(none.resolve(peer: "192.0.2.1", forwardedFor: ["203.0.113.5"]) == "192.0.2.1")
        #expect(none.resolve(peer: nil, forwardedFor: ["203.0.113.5"]) == "unknown")
        let proxied = try ClientAddressResolver(trustedProxies: ["10.0.0.1", "10.0.0.2", "::1"])
        #expect(proxied.resolve(peer: "10.0.0.1", forwardedFor: ["1.1.1.1, 203.0.113.5"]) == "203.0.113.5")
        #expect(proxied.resolve(peer: "10.0.0.1", forwardedFor: ["1.1.1.1", "203.0.113.5, 10.0.0.2"]) == "203.0.113.5")
        #expect(proxied.resolve(peer: "0:0::1", forwardedFor: ["2001:db8::0:1"]) == "2001:db8::1")
        #expect(proxied.resolve(peer: "10.0.0.1", forwardedFor: []) == "10.0.0.1")
        #expect(proxied.resolve(peer: "10.0.0.1", forwardedFor: ["1.1.1.1, not-an-ip"]) == "10.0.0.1")
        #expect(proxied.resolve(peer: "192.0.2.9", forwardedFor: ["203.0.113.5"]) == "192.0.2.9")
        #expect(throws: VaultError.self) { try ClientAddressResolver(trustedProxies: ["proxy.example"]) }
        // A proxy on the Unix socket: trusted only when `unix` is listed; otherwise its clients share one address.
        #expect(proxied.resolve(peer: nil, forwardedFor: ["203.0.113.5"]) == "unknown")
        let local = try ClientAddressResolver(trustedProxies: ["unix"])
        #expect(local.resolve(peer: nil, forwardedFor: ["198.51.100.7"]) == "198.51.100.7")
        #expect(local.resolve(peer: nil, forwardedFor: []) == "unix")
        #expect(local.resolve(peer: nil, forwardedFor: ["not-an-ip"]) == "unix")
        #expect(local.resolve(peer: "192.0.2.9", forwardedFor: ["203.0.113.5"]) == "192.0.2.9")
    }

    @Test("POST /v1/admin/users refuses a username with a trailing line separator with a 400 that says what is allowed")
    func lookalikeUsername() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let adm = try await unlockToken(client, f, "adm")
            for name in ["sato\u{2028}", "sato\u{85}", "Sato"] {
                let r = try await client.call(
                    .post, "/v1/admin/users", token: adm, json: ["username": name, "role": "counselor"])
                #expect(r.status == .badRequest)
                #expect(r.errorMessage?.contains("a–z, 0–9") == true)
            }
            let ok = try await client.call(
                .post, "/v1/admin/users", token: adm, json: ["username": "sato", "role": "counselor"])
            #expect(ok.status == .created)
        }
    }
}
