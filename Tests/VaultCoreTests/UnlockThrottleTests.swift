import Foundation
import GRDB
import Testing
import VaultCore
import VaultTestSupport

/// The guess throttle (red-team findings H5, M7, L2): attempts are reserved before any Argon2id, a stranger cannot
/// lock a user out, refusals do not flood the access log, and a mistyped username is never stored.
@Suite struct UnlockThrottleTests {
    static func entryCount(_ f: Fixture) async throws -> Int {
        try await f.vault.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM access_log") ?? -1 }
    }

    /// Runs `n` wrong unlocks of `username(i)` at once from `address`; returns the error codes.
    static func guesses(_ f: Fixture, _ n: Int, address: String, username: @escaping @Sendable (Int) -> String)
        async -> [VaultError.Code]
    {
        await withTaskGroup(of: VaultError.Code?.self) { group in
            for i in 0..<n {
                group.addTask {
                    do {
                        _ = try await f.vault.unlock(
                            username: username(i), passphrase: "wrong guess \(i)", address: address, requestID: "g")
                        return nil
                    } catch let e as VaultError {
                        return e.code
                    } catch {
                        return .internalError
                    }
                }
            }
            var codes: [VaultError.Code] = []
            for await c in group { codes.append(c ?? .internalError) }
            return codes
        }
    }

    @Test("50 parallel guesses on one user from one address: at most 5 are hashed, the rest 429 at once")
    func parallelGuessesOnOneUser() async throws {
        // A clock that stands still: a slow machine must not let the 2 s delay after the fifth failure pass.
        let f = try await Fixture.make(clock: ManualClock().clock)
        defer { f.remove() }
        let before = f.vault.passphraseDerivations
        let codes = await Self.guesses(f, 50, address: "203.0.113.7") { _ in "cou1" }
        #expect(codes.filter { $0 == .unauthenticated }.count <= 5)
        #expect(codes.filter { $0 == .rateLimited }.count >= 45)
        #expect(codes.allSatisfy { $0 == .unauthenticated || $0 == .rateLimited })
        #expect(f.vault.passphraseDerivations - before <= 5)
        // The real user, from their own address, is neither locked out nor kept waiting.
        let started = ContinuousClock.now
        let grant = try await f.vault.unlock(
            username: "cou1", passphrase: f.passphrases["cou1"]!, address: "198.51.100.2", requestID: "real")
        #expect(grant.username == "cou1")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("50 parallel guesses on 50 usernames from one address: at most the address allowance (20) is hashed")
    func parallelGuessesAcrossUsers() async throws {
        // A clock that stands still: a slow machine must not let the 2 s delay after the fifth failure pass.
        let f = try await Fixture.make(clock: ManualClock().clock)
        defer { f.remove() }
        let before = f.vault.passphraseDerivations
        let codes = await Self.guesses(f, 50, address: "203.0.113.8") { "guess\($0)" }
        #expect(codes.filter { $0 == .unauthenticated }.count <= 20)
        #expect(codes.filter { $0 == .rateLimited }.count >= 30)
        #expect(f.vault.passphraseDerivations - before <= 20)
        let grant = try await f.vault.unlock(
            username: "cou2", passphrase: f.passphrases["cou2"]!, address: "198.51.100.3", requestID: "real")
        #expect(grant.username == "cou2")
    }

    @Test("a stranger's failures on a username never lock the user out of their own address")
    func noLockoutByUsername() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        var failures = 0
        for i in 0..<12 {
            clock.advance(seconds: 1000)  // past every delay, so each address keeps failing
            do {
                _ = try await f.vault.unlock(
                    username: "sup", passphrase: "wrong \(i)", address: "192.0.2.\(i % 2)", requestID: "x")
            } catch let e as VaultError where e.code == .unauthenticated {
                failures += 1
            } catch {}
        }
        #expect(failures == 12)
        let grant = try await f.vault.unlock(
            username: "sup", passphrase: f.passphrases["sup"]!, address: "198.51.100.4", requestID: "real")
        #expect(grant.username == "sup")
    }

    @Test("300 throttled unlocks add a handful of log entries; the rest are summed up once the window closes")
    func refusalsAreNotEachLogged() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let before = try await Self.entryCount(f)
        var refused = 0
        for i in 0..<305 {
            do {
                _ = try await f.vault.unlock(
                    username: "cou4", passphrase: "wrong \(i)", address: "203.0.113.9", requestID: "m7")
            } catch let e as VaultError where e.code == .rateLimited {
                refused += 1
            } catch {}
        }
        #expect(refused == 300)
        let added = try await Self.entryCount(f) - before
        #expect(added <= 8, "\(added) entries for 305 attempts")
        clock.advance(seconds: 600)
        try await f.vault.recordThrottleSummaries()
        let summary = try await f.vault.database.read { db in
            try String.fetchOne(db, sql: "SELECT target FROM access_log ORDER BY seq DESC LIMIT 1")
        }
        #expect(summary == "user:cou4 throttled:299")
        #expect(try await Self.entryCount(f) - before == added + 1)
    }

    @Test("at shutdown the throttle windows still open are summed up in the log, not lost")
    func openWindowsAreRecordedAtShutdown() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        for i in 0..<20 {
            _ = try? await f.vault.unlock(
                username: "cou4", passphrase: "wrong \(i)", address: "203.0.113.7", requestID: "stop")
        }
        let before = try await Self.entryCount(f)
        try await f.vault.recordThrottleSummaries()
        #expect(try await Self.entryCount(f) == before, "the window is still open: nothing summed up yet")
        try await f.vault.recordThrottleSummaries(closingAll: true)
        let summary = try await f.vault.database.read { db in
            try String.fetchOne(db, sql: "SELECT target FROM access_log ORDER BY seq DESC LIMIT 1")
        }
        #expect(summary?.hasPrefix("user:cou4 throttled:") == true)
        #expect(try await Self.entryCount(f) == before + 1)
    }

    @Test("a passphrase typed as an unknown username leaves no trace in any file; known usernames are logged")
    func unknownUsernameNotStored() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let typed = "correcthorsebatterystaple-2026"
        await #expect(throws: VaultError.self) {
            try await f.vault.unlock(username: typed, passphrase: "anything", address: "a", requestID: "l2")
        }
        await #expect(throws: VaultError.self) {
            try await f.vault.unlock(username: "cou1", passphrase: "wrong passphrase", address: "a", requestID: "l2")
        }
        let rows = try await f.vault.database.read { db in
            try Row.fetchAll(db, sql: "SELECT actor, target FROM access_log WHERE request_id = 'l2' ORDER BY seq").map {
                "\($0["actor"] as String) \($0["target"] as String)"
            }
        }
        #expect(rows == ["? user:?", "cou1 user:cou1"])
        for (path, bytes) in try f.allBytes() {
            #expect(bytes.range(of: Data(typed.utf8)) == nil, "found in \(path)")
        }
    }
}
