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
    /// When each user's row was last seen active in the database (see `Vault.authenticateSession`).
    private let seenActive = Mutex<[ID: Int64]>([:])
    /// How long a user's row, once seen active, is trusted without reading it again.
    static let stateCheckMillis: Int64 = 1000
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

    /// Whether a token's session is live, without counting this as use (a long-lived event stream checks it, and
    /// must not keep an idle session alive).
    public func isLive(_ token: String) -> Bool {
        let key = Hashing.blake2b(Array(token.utf8))
        let now = clock.milliseconds()
        return entries.withLock { map in
            guard let e = map[key] else { return false }
            return now - e.lastUsedAt <= idleMillis && now - e.createdAt <= lifetimeMillis
        }
    }

    /// Ends one session (logout).
    public func end(_ token: String) {
        let key = Hashing.blake2b(Array(token.utf8))
        entries.withLock { $0.removeValue(forKey: key)?.user.forget() }
    }

    /// Ends every session of a user (disable).
    public func end(userID: ID) {
        seenActive.withLock { $0[userID] = nil }
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

    /// How long a session may sit unused before it ends (the console shows the time left).
    public var idleSeconds: Int64 { idleMillis / 1000 }

    /// True when the user's row was seen active less than `stateCheckMillis` ago.
    func recentlySeenActive(_ userID: ID, now: Int64) -> Bool {
        seenActive.withLock { m in m[userID].map { now - $0 < Self.stateCheckMillis } ?? false }
    }

    func markSeenActive(_ userID: ID, now: Int64) {
        seenActive.withLock { m in
            if m.count > 10_000 { m.removeAll() }
            m[userID] = now
        }
    }
}

extension Vault {
    /// The unlocked staff user behind a live session token, or nil. The user's row is read again at most once a
    /// second per user: when another process (the CLI's `user disable`) has disabled or removed the account, every
    /// session of the user ends here (keys wiped) and the token is refused.
    /// - Throws: storage errors while reading the user's row.
    public func authenticateSession(_ token: String) async throws -> UnlockedUser? {
        guard let user = sessions.authenticate(token) else { return nil }
        if sessions.recentlySeenActive(user.id, now: now()) { return user }
        let state = try await database.read { db -> String? in
            do {
                return try self.findUser(db, id: user.id)?.state
            } catch let e as VaultError where e.code == .integrity {
                return nil  // a row that does not carry its MAC counts as not active (the failure is recorded)
            }
        }
        guard state == "active" else {
            sessions.end(userID: user.id)
            return nil
        }
        sessions.markSeenActive(user.id, now: now())
        return user
    }
}
