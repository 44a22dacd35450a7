import Foundation
import GRDB
import Metrics
import VaultCrypto

/// The answer to a successful unlock.
public struct SessionGrant: Sendable {
    public let token: String
    public let expiresAt: Int64
    public let username: String
    public let role: Role
}

extension Vault {
    /// Unlocks a user: Argon2id, unwrap, attestation check; starts a session. Attempts are throttled per
    /// (username, address) and per address before any hashing, and never say whether the username exists; an
    /// unknown username is logged as `user:?`, never as what was typed.
    /// - Throws: `.unauthenticated` (wrong username or passphrase), `.rateLimited` with a retry delay.
    public func unlock(username: String, passphrase: String, address: String, requestID: String) async throws
        -> SessionGrant
    {
        let user = try await database.read { db in try self.findUser(db, username: username) }
        let who = Self.loggedName(typed: username, exists: user != nil)
        let caller = Caller(actor: who.actor, role: "unknown", requestID: requestID)
        let unlocked = try await throttledAttempt(
            "session.unlock", username: username, address: address, caller: caller, target: who.target
        ) { () async throws -> UnlockedUser? in
            if let user, user.state == "active" {
                return try await Self.nilUnlessBusy { try await self.unlockKeys(user, passphrase: passphrase) }
            }
            // Same work for an unknown user, so timing does not tell whether the name exists.
            _ = try await Self.nilUnlessBusy {
                try await self.derivations.derive(
                    passphrase: passphrase, salt: Hashing.blake2b(Array(username.utf8), outputLength: 16),
                    parameters: self.kdfParameters)
            }
            return nil
        }
        guard let unlocked else {
            try await deny(
                caller, "session.unlock", who.target, VaultError(.unauthenticated, "wrong username or passphrase"))
        }
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

    /// Changes the passphrase of the signed-in user after checking the current one; the check is throttled like
    /// an unlock (per username and address, per address).
    /// - Throws: `.unauthenticated` when the current passphrase is wrong, `.rateLimited` when throttled,
    ///   `.invalidRequest` for a weak new one.
    public func changePassphrase(
        _ user: UnlockedUser, current: String, new: String, address: String = "local", requestID: String
    ) async throws {
        guard let record = try await database.read({ db in try self.findUser(db, id: user.id) }) else {
            throw VaultError(.unauthenticated, "the account no longer exists")
        }
        let caller = user.caller(requestID: requestID)
        let target = "user:\(user.username)"
        let checked = try await throttledAttempt(
            "user.rewrap", username: user.username, address: address, caller: caller, target: target
        ) { () async throws -> UnlockedUser? in
            try await Self.nilUnlessBusy { try await self.unlockKeys(record, passphrase: current) }
        }
        guard checked != nil else {
            try await deny(
                caller, "user.rewrap", target, VaultError(.unauthenticated, "the current passphrase is wrong"))
        }
        try await rewrapUserKeys(user, passphrase: new, caller: caller)
    }

    /// What the access log says for a typed username: itself when the account exists; otherwise `?`, so a
    /// passphrase typed into the username field is never stored.
    static func loggedName(typed: String, exists: Bool) -> (actor: String, target: String) {
        exists ? (typed, "user:\(typed)") : ("?", "user:?")
    }

    /// Runs `body` (a passphrase or code check: nil means wrong) under the guess throttle. A refused attempt
    /// is recorded once per throttle key per window (the rest are counted; see `recordThrottleSummaries`) and
    /// throws `.rateLimited` before `body` runs.
    func throttledAttempt<T>(
        _ action: String, username: String, address: String, caller: Caller, target: String,
        _ body: () async throws -> T?
    ) async throws -> T? {
        let ticket: UnlockThrottle.Ticket
        switch throttle.begin(
            username: username, address: address, now: now(), action: action, actor: caller.actor, target: target)
        {
        case .admitted(let t):
            ticket = t
        case .refused(let refusal):
            Counter(label: "consultvault_throttled_total", dimensions: [("action", action)]).increment()
            let error = VaultError(
                .rateLimited, "too many attempts; wait \(refusal.retryAfter) s and try again",
                retryAfter: refusal.retryAfter)
            if refusal.record { try await deny(caller, action, target, error) }
            throw error
        }
        let result: T?
        do {
            if ticket.delayMillis > 0 { try await Task.sleep(for: .milliseconds(ticket.delayMillis)) }
            result = try await body()
        } catch {
            throttle.finish(ticket, .abandoned, now: now())
            throw error
        }
        throttle.finish(ticket, result == nil ? .failure : .success, now: now())
        return result
    }

    /// The value, or nil when the check failed for any reason but a full derivation queue (which is rethrown:
    /// it is not a wrong guess).
    static func nilUnlessBusy<T>(_ body: () async throws -> T) async throws -> T? {
        do {
            return try await body()
        } catch let e as VaultError where e.code == .rateLimited {
            throw e
        } catch {
            return nil
        }
    }

    /// Writes one entry per throttle window that closed with refusals that were counted, not recorded
    /// (target: the first refusal's, plus ` throttled:N`). `serve` calls it every 30 s, and with `closingAll` at
    /// shutdown, so the windows still open are summed up too rather than lost.
    /// - Throws: storage errors (the summaries are then lost; the metric still counts them).
    public func recordThrottleSummaries(closingAll: Bool = false) async throws {
        let summaries = throttle.takeSummaries(now: now(), closingAll: closingAll)
        guard !summaries.isEmpty else { return }
        try await database.transaction { db in
            for s in summaries {
                let caller = Caller(actor: s.actor, role: "unknown", requestID: "throttle")
                try self.record(db, caller, s.action, "\(s.target) throttled:\(s.count)", .denied)
            }
        }
    }

    /// Passphrase derivations (Argon2id) started by this process: a count, for tests and metrics.
    public var passphraseDerivations: Int { derivations.started }
}
