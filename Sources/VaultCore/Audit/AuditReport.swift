import Foundation
import GRDB

/// What `audit report` shows for a period: log entries per actor per day, break-glass events with their
/// decrypted reasons and review state, denied attempts and unlock failures, and the verification result.
/// Data only: the CLI renders it (consultvault's `AuditReport+HTML.swift`).
public struct AuditReport: Sendable {
    public struct ActorRow: Sendable, Equatable {
        public let actor: String
        public let counts: [Int]
        public var total: Int { counts.reduce(0, +) }

        public init(actor: String, counts: [Int]) {
            self.actor = actor
            self.counts = counts
        }
    }

    public let vaultID: String
    public let since: Int64
    public let until: Int64
    public let generatedAt: Int64
    public let generatedBy: String
    /// UTC days `yyyy-mm-dd`, one per chart group.
    public let days: [String]
    public let actors: [ActorRow]
    public let breakGlass: [BreakGlassItem]
    public let denied: [AuditEntry]
    public let unlockFailures: [AuditEntry]
    public let verification: String
    public let verified: Bool

    public static let maxDays = 400

    /// Parses `yyyy-mm-dd` (UTC midnight; with `endOfDay`, the next midnight) or an RFC 3339 time.
    public static func parseDate(_ s: String, endOfDay: Bool) -> Int64? {
        if s.count == 10, let t = Timestamp.parse(s + "T00:00:00Z") { return endOfDay ? t + 86_400_000 : t }
        return Timestamp.parse(s)
    }

    static func day(_ ms: Int64) -> String { String(Timestamp.format(ms).prefix(10)) }
}

extension Vault {
    /// Builds the auditor's report for [since, until) (recorded as `audit.read`).
    /// - Throws: `.forbidden` (recorded) for anyone but an auditor; `.invalidRequest` for an empty or too long period.
    public func auditReport(since: Int64, until: Int64, as user: UnlockedUser, requestID: String) async throws
        -> AuditReport
    {
        guard until > since else { throw VaultError.invalid("--until must be after --since") }
        let firstDay = since - since.mod(86_400_000)
        let dayCount = Int((until - 1 - firstDay) / 86_400_000) + 1
        guard dayCount <= AuditReport.maxDays else {
            throw VaultError.invalid("a report covers at most \(AuditReport.maxDays) days; split the period")
        }
        try await requireAuditor(user, "audit.read", "audit:report", requestID: requestID)
        let verification: String
        let verified: Bool
        do {
            verification = try await verifyAuditLog().line
            verified = true
        } catch let e as AuditVerificationFailure {
            verification = "FAILED: \(e.description)"
            verified = false
        }
        let days = (0..<dayCount).map { AuditReport.day(firstDay + Int64($0) * 86_400_000) }
        return try await database.transaction { db in
            try self.record(db, user.caller(requestID: requestID), "audit.read", "audit:report")
            let key = try self.openAuditorsKey(db, as: user)
            var counts: [String: [Int]] = [:]
            var denied: [AuditEntry] = []
            var unlocks: [AuditEntry] = []
            let cursor = try Row.fetchCursor(
                db, sql: "SELECT * FROM access_log WHERE time >= ? AND time < ? ORDER BY seq",
                arguments: [since, until])
            while let row = try cursor.next() {
                let e = AuditLog.decode(row)
                let d = Int((e.time - firstDay) / 86_400_000)
                counts[e.actor, default: [Int](repeating: 0, count: dayCount)][d] += 1
                if e.outcome == .denied {
                    if e.action == "session.unlock" { unlocks.append(e) } else { denied.append(e) }
                }
            }
            let actors = counts.map { AuditReport.ActorRow(actor: $0.key, counts: $0.value) }.sorted {
                ($0.total, $1.actor) > ($1.total, $0.actor)
            }
            return AuditReport(
                vaultID: self.keys.vaultID.description, since: since, until: until, generatedAt: self.now(),
                generatedBy: user.username, days: days, actors: actors,
                breakGlass: try self.breakGlassItems(db, key: key, since: since, until: until), denied: denied,
                unlockFailures: unlocks, verification: verification, verified: verified)
        }
    }
}

extension Int64 {
    /// Mathematical modulo (never negative for a positive divisor).
    func mod(_ m: Int64) -> Int64 { ((self % m) + m) % m }
}
