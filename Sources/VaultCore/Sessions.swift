import Foundation
import GRDB
import Synchronization
import VaultCrypto

/// Unlocked sessions, in memory only: a restart ends every session. Tokens are looked up by their
/// BLAKE2b-256 hash; the unlocked keys are dropped (and their protected memory wiped) on logout,
/// idle expiry, absolute expiry and shutdown.
public final class SessionStore: Sendable {
    struct Entry {
        let user: UnlockedUser
        let createdAt: Int64
        var lastUsedAt: Int64
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    private let clock: VaultClock
    private let idleMillis: Int64
    private let lifetimeMillis: Int64

    init(clock: VaultClock, idle: Int64, lifetime: Int64) {
        self.clock = clock
        self.idleMillis = idle * 1000
        self.lifetimeMillis = lifetime * 1000
    }

    /// Starts a session; returns the bearer token (shown once) and its absolute expiry.
    func create(for user: UnlockedUser) -> (token: String, expiresAt: Int64) {
        let token = "cvs_" + Base64URL.encode(SecureRandom.bytes(32))
        let now = clock.milliseconds()
        entries.withLock { $0[Hashing.blake2b(Array(token.utf8))] = Entry(user: user, createdAt: now, lastUsedAt: now) }
        return (token, now + lifetimeMillis)
    }

    /// The unlocked user behind a live token, refreshing its idle timer; nil when unknown or expired.
    public func authenticate(_ token: String) -> UnlockedUser? {
        let key = Hashing.blake2b(Array(token.utf8))
        let now = clock.milliseconds()
        return entries.withLock { map -> UnlockedUser? in
            guard var e = map[key] else { return nil }
            if now - e.lastUsedAt > idleMillis || now - e.createdAt > lifetimeMillis {
                e.user.forget()
                map[key] = nil
                return nil
            }
            e.lastUsedAt = now
            map[key] = e
            return e.user
        }
    }

    /// Ends one session (logout).
    public func end(_ token: String) {
        let key = Hashing.blake2b(Array(token.utf8))
        entries.withLock { $0.removeValue(forKey: key)?.user.forget() }
    }

    /// Ends every session of a user (disable).
    public func end(userID: ID) {
        entries.withLock { map in
            for (k, e) in map where e.user.id == userID {
                e.user.forget()
                map[k] = nil
            }
        }
    }

    /// Ends every session (shutdown).
    public func endAll() {
        entries.withLock { map in
            for e in map.values { e.user.forget() }
            map.removeAll()
        }
    }

    /// Removes expired sessions; returns how many remain.
    @discardableResult
    public func sweep() -> Int {
        let now = clock.milliseconds()
        return entries.withLock { map in
            for (k, e) in map where now - e.lastUsedAt > idleMillis || now - e.createdAt > lifetimeMillis {
                e.user.forget()
                map[k] = nil
            }
            return map.count
        }
    }

    /// Ids of users with a live session.
    public func liveUserIDs() -> Set<ID> {
        sweep()
        return entries.withLock { Set($0.values.map(\.user.id)) }
    }

    public var count: Int { entries.withLock { $0.count } }
}

/// Runs Argon2id off the cooperative thread pool, at most `limit` at a time.
final class DerivationLimiter: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    func derive(passphrase: String, salt: [UInt8], parameters: KDFParameters) async throws -> SecretBytes {
        await acquire()
        defer { release() }
        return try await withCheckedThrowingContinuation { cont in
            DispatchQueue.global(qos: .userInitiated).async {
                cont.resume(
                    with: Result {
                        try PasswordKDF.deriveKey(passphrase: passphrase, salt: salt, parameters: parameters)
                    })
            }
        }
    }

    private func acquire() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.running < limit {
                    s.running += 1
                    return true
                }
                s.waiting.append(cont)
                return false
            }
            if resumeNow { cont.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.running -= 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// Failed-unlock throttling per username and per client address: after a few failures each further
/// attempt must wait a growing delay; while waiting, attempts are refused with 429 before any hashing.
final class UnlockThrottle: Sendable {
    private struct Record {
        var failures: Int
        var lastFailure: Int64
    }
    private let records = Mutex<[String: Record]>([:])
    let freeAttempts = 5
    let maxDelaySeconds: Int64 = 900

    /// Seconds the caller must still wait, or nil when an attempt may proceed.
    func retryAfter(keys: [String], now: Int64) -> Int? {
        records.withLock { map in
            var wait: Int64 = 0
            for k in keys {
                guard let r = map[k], r.failures >= freeAttempts else { continue }
                let delay = min(maxDelaySeconds, Int64(1) << Int64(min(20, r.failures - freeAttempts + 1)))
                let until = r.lastFailure + delay * 1000
                if until > now { wait = max(wait, (until - now + 999) / 1000) }
            }
            return wait > 0 ? Int(wait) : nil
        }
    }

    func fail(keys: [String], now: Int64) {
        records.withLock { map in
            if map.count > 100_000 { map.removeAll() }
            for k in keys {
                var r = map[k] ?? Record(failures: 0, lastFailure: now)
                // Forget failures older than a day.
                if now - r.lastFailure > 86_400_000 { r.failures = 0 }
                r.failures += 1
                r.lastFailure = now
                map[k] = r
            }
        }
    }

    func succeed(username: String) {
        records.withLock { $0["user:\(username)"] = nil }
    }
}

/// Base64url without padding (tokens).
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/", with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }
}

/// The answer to a successful unlock.
public struct SessionGrant: Sendable {
    public let token: String
    public let expiresAt: Int64
    public let username: String
    public let role: Role
}

extension Vault {
    /// Unlocks a user: Argon2id, unwrap, attestation check; starts a session. Failures are throttled
    /// per username and per address and never say whether the username exists.
    /// - Throws: `.unauthenticated` (wrong username or passphrase), `.rateLimited` with a retry delay.
    public func unlock(username: String, passphrase: String, address: String, requestID: String) async throws
        -> SessionGrant
    {
        let throttleKeys = ["user:\(username)", "addr:\(address)"]
        let caller = Caller(actor: username, role: "unknown", requestID: requestID)
        if let wait = throttle.retryAfter(keys: throttleKeys, now: now()) {
            try await database.transaction { db in
                try self.record(db, caller, "session.unlock", "user:\(username)", .denied)
            }
            throw VaultError(.rateLimited, "too many failed unlocks; wait \(wait) s and try again", retryAfter: wait)
        }
        let user = try await database.read { db in try UserRecord.find(db, username: username) }
        let unlocked: UnlockedUser?
        if let user, user.state == "active" {
            unlocked = try? await unlockKeys(user, passphrase: passphrase)
        } else {
            // Same work for an unknown user, so timing does not tell whether the name exists.
            _ = try? await derivations.derive(
                passphrase: passphrase, salt: Hashing.blake2b(Array(username.utf8), outputLength: 16),
                parameters: kdfParameters)
            unlocked = nil
        }
        guard let unlocked else {
            throttle.fail(keys: throttleKeys, now: now())
            try await database.transaction { db in
                try self.record(db, caller, "session.unlock", "user:\(username)", .denied)
            }
            throw VaultError(.unauthenticated, "wrong username or passphrase")
        }
        throttle.succeed(username: username)
        try await database.transaction { db in
            try self.record(db, unlocked.caller(requestID: requestID), "session.unlock", "user:\(username)")
        }
        // Housekeeping that needs this user's keys: stronger Argon2id parameters, rotated desk keys.
        if let params = user?.kdf, !params.isAtLeast(kdfParameters) {
            try? await rewrapUserKeys(unlocked, passphrase: passphrase, caller: unlocked.caller(requestID: requestID))
        }
        do {
            try await resealRotatedKeys(for: unlocked)
        } catch {
            logger.warning(
                "re-sealing rotated desk keys failed",
                metadata: ["code": "\((error as? VaultError)?.code.rawValue ?? "other")"])
        }
        let (token, expires) = sessions.create(for: unlocked)
        return SessionGrant(token: token, expiresAt: expires, username: unlocked.username, role: unlocked.role)
    }
}

extension Vault {
    /// Re-wraps the user's secrets under a new passphrase (fresh salt, the vault's current Argon2id parameters).
    func rewrapUserKeys(_ user: UnlockedUser, passphrase: String, caller: Caller) async throws {
        guard passphrase.count >= Self.minimumPassphraseLength, passphrase.utf8.count <= 1024 else {
            throw VaultError.invalid("choose a passphrase of at least \(Self.minimumPassphraseLength) characters")
        }
        let params = kdfParameters
        let salt = SecureRandom.bytes(PasswordKDF.saltLength)
        let kek = try await derivations.derive(passphrase: passphrase, salt: salt, parameters: params)
        let wrapped = try Self.wrapUserKeys(userID: user.id, box: user.box, signing: user.signing, kek: kek)
        try await database.transaction { db in
            try db.execute(
                sql:
                    "UPDATE users SET wrapped_keys = ?, kdf_salt = ?, kdf_ops = ?, kdf_mem = ? WHERE id = ? AND state = 'active'",
                arguments: [Data(wrapped), Data(salt), Int64(params.opsLimit), params.memLimit, Data(user.id.bytes)])
            guard db.changesCount == 1 else { throw VaultError(.unauthenticated, "the account is no longer active") }
            try self.record(db, caller, "user.rewrap", "user:\(user.username)")
        }
    }

    /// Changes the passphrase of the signed-in user after checking the current one.
    /// - Throws: `.unauthenticated` when the current passphrase is wrong, `.invalidRequest` for a weak new one.
    public func changePassphrase(_ user: UnlockedUser, current: String, new: String, requestID: String) async throws {
        guard let record = try await database.read({ db in try UserRecord.find(db, id: user.id) }) else {
            throw VaultError(.unauthenticated, "the account no longer exists")
        }
        _ = try await unlockKeys(record, passphrase: current)
        try await rewrapUserKeys(user, passphrase: new, caller: user.caller(requestID: requestID))
    }
}
