import Foundation
import Synchronization
import VaultCrypto

/// Throttling of passphrase and code guesses (unlock, enroll, passphrase change), before any hashing.
///
/// Each attempt first reserves a place under two keys: the (username, address) pair and the address. An attempt
/// in flight counts against the allowance like a failure, so parallel guesses beyond it are refused at once; when
/// it ends it becomes a failure, is forgotten (a refusal elsewhere) or clears the pair (a success). Past the
/// allowance a key waits a doubling delay (2 s … 15 min) and then lets one attempt through at a time.
/// There is no lockout by username alone: failures on a username from any address only add a short fixed delay
/// (`userDelayMillis`) to each later attempt on it, so a stranger can slow a user down but not lock them out.
/// Refusals are recorded in the access log once per key per `summaryWindowMillis`; the rest are counted and
/// written as one summary entry when the window closes (`takeSummaries`).
final class UnlockThrottle: Sendable {
    struct Policy: Sendable {
        var pairAllowance = 5
        var addressAllowance = 20
        var userSlowAfter = 10
        var userDelayMillis: Int64 = 1000
        var maxDelaySeconds: Int64 = 900
        var forgetAfterMillis: Int64 = 86_400_000
        var summaryWindowMillis: Int64 = 300_000
        var maxRecords = 100_000
    }

    /// A reserved attempt; pass it back to `finish`.
    struct Ticket: Sendable {
        fileprivate let pair: String
        fileprivate let address: String
        fileprivate let user: String
        /// A short wait to apply before hashing (the username has many recent failures).
        let delayMillis: Int64
    }

    enum Outcome { case success, failure, abandoned }

    enum Admission {
        case admitted(Ticket)
        case refused(Refusal)
    }

    /// What a refused attempt should do about the access log.
    struct Refusal: Sendable {
        let retryAfter: Int
        /// True for the first refusal of a blocking key in its window: record it; otherwise it was counted.
        let record: Bool
    }

    /// Refusals that were counted, not recorded, in a window that has closed.
    struct Summary: Sendable, Equatable {
        let action: String
        let actor: String
        let target: String
        let count: Int
    }

    private struct Record {
        var failures = 0
        var lastFailure: Int64 = 0
        var inFlight = 0
        var windowStart: Int64?
        var suppressed = 0
        var firstRefusal: (action: String, actor: String, target: String)?
    }

    private struct State {
        var records: [String: Record] = [:]
        var closed: [Summary] = []
    }

    private let state = Mutex(State())
    let policy: Policy

    init(policy: Policy = Policy()) { self.policy = policy }

    /// The address part of a key: IPv6 addresses count per /64 (one host usually has the whole /64).
    static func addressKey(_ address: String) -> String {
        guard address.contains(":") else { return address }
        var in6 = in6_addr()
        guard inet_pton(AF_INET6, address, &in6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: &in6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return bytes[12..<16].map(String.init).joined(separator: ".")  // IPv4-mapped
        }
        return Hex.string(bytes[0..<8]) + "::/64"
    }

    /// Reserves an attempt, or says how long to wait. `action`, `actor` and `target` describe the attempt for a
    /// summary entry; they must already be safe to log.
    func begin(
        username: String, address: String, now: Int64, action: String, actor: String, target: String
    ) -> Admission {
        let addr = "a\u{0}" + Self.addressKey(address)
        let pair = "p\u{0}" + username + "\u{0}" + Self.addressKey(address)
        let user = "u\u{0}" + username
        return state.withLock { s in
            if s.records.count > policy.maxRecords { evict(&s, now: now) }
            var wait: Int64 = 0
            var blocking: [String] = []
            for (key, allowance) in [(pair, policy.pairAllowance), (addr, policy.addressAllowance)] {
                var r = s.records[key] ?? Record()
                if r.inFlight == 0, r.failures > 0, now - r.lastFailure > policy.forgetAfterMillis { r.failures = 0 }
                s.records[key] = r
                if let w = blockedFor(r, allowance: allowance, now: now) {
                    wait = max(wait, w)
                    blocking.append(key)
                }
            }
            if !blocking.isEmpty {
                let record = noteRefusal(&s, keys: blocking, now: now, action: action, actor: actor, target: target)
                return .refused(Refusal(retryAfter: Int(max(1, (wait + 999) / 1000)), record: record))
            }
            s.records[pair]!.inFlight += 1
            s.records[addr]!.inFlight += 1
            var u = s.records[user] ?? Record()
            if u.failures > 0, now - u.lastFailure > policy.forgetAfterMillis { u.failures = 0 }
            s.records[user] = u
            let delay = u.failures >= policy.userSlowAfter ? policy.userDelayMillis : 0
            return .admitted(Ticket(pair: pair, address: addr, user: user, delayMillis: delay))
        }
    }

    /// Ends a reserved attempt.
    func finish(_ ticket: Ticket, _ outcome: Outcome, now: Int64) {
        state.withLock { s in
            for key in [ticket.pair, ticket.address] {
                guard var r = s.records[key] else { continue }
                r.inFlight = max(0, r.inFlight - 1)
                if outcome == .failure {
                    r.failures += 1
                    r.lastFailure = now
                }
                if outcome == .success, key == ticket.pair { r.failures = 0 }
                s.records[key] = r
            }
            if outcome == .failure {
                var u = s.records[ticket.user] ?? Record()
                u.failures += 1
                u.lastFailure = now
                s.records[ticket.user] = u
            }
        }
    }

    /// Summaries of windows that have closed by `now` (each returned once).
    func takeSummaries(now: Int64, closingAll: Bool = false) -> [Summary] {
        state.withLock { s in
            for (key, r) in s.records {
                guard let start = r.windowStart, closingAll || now - start >= policy.summaryWindowMillis else {
                    continue
                }
                close(&s, key: key)
            }
            defer { s.closed.removeAll() }
            return s.closed
        }
    }

    /// Milliseconds a key must still wait, or nil when it admits another attempt.
    private func blockedFor(_ r: Record, allowance: Int, now: Int64) -> Int64? {
        if r.failures >= allowance {
            let delay = min(policy.maxDelaySeconds, Int64(1) << Int64(min(20, r.failures - allowance + 1)))
            let until = r.lastFailure + delay * 1000
            if until > now { return until - now }
            return r.inFlight > 0 ? 1000 : nil
        }
        return r.failures + r.inFlight >= allowance ? 1000 : nil
    }

    /// True when this refusal is the first of a blocking key in its window (then it is to be recorded).
    private func noteRefusal(
        _ s: inout State, keys: [String], now: Int64, action: String, actor: String, target: String
    ) -> Bool {
        for key in keys {
            if let start = s.records[key]?.windowStart, now - start >= policy.summaryWindowMillis {
                close(&s, key: key)
            }
        }
        if keys.contains(where: { s.records[$0]?.windowStart == nil }) {
            for key in keys where s.records[key]?.windowStart == nil {
                s.records[key]!.windowStart = now
                s.records[key]!.firstRefusal = (action, actor, target)
            }
            return true
        }
        s.records[keys[0]]!.suppressed += 1
        return false
    }

    private func close(_ s: inout State, key: String) {
        guard var r = s.records[key] else { return }
        if r.suppressed > 0, let first = r.firstRefusal {
            s.closed.append(
                Summary(action: first.action, actor: first.actor, target: first.target, count: r.suppressed))
        }
        r.windowStart = nil
        r.suppressed = 0
        r.firstRefusal = nil
        s.records[key] = r
    }

    /// Drops idle records (nothing in flight, no open window, no recent failure); then, if still too many, every
    /// record with nothing in flight.
    private func evict(_ s: inout State, now: Int64) {
        s.records = s.records.filter { _, r in
            r.inFlight > 0 || r.windowStart != nil || now - r.lastFailure < policy.maxDelaySeconds * 1000
        }
        if s.records.count > policy.maxRecords / 2 { s.records = s.records.filter { $0.value.inFlight > 0 } }
    }
}
