import Foundation
import GRDB
import VaultCrypto

/// What a purge removed (or would remove): case ids and counts, never content.
public struct PurgeReport: Sendable, Equatable {
    public var cases: [ID] = []
    public var messages = 0
    public var wraps = 0
    public var held = 0
    /// Cases due that could not be deleted (each recorded with outcome `error`; tried again next run).
    public var failed: [ID] = []
}

extension Vault {
    /// Sets a desk's retention for closed cases. Never below the vault's floor; a lengthening applies at once,
    /// a shortening waits for `approveRetention` by a supervisor of the desk.
    /// - Returns: true when it applied now, false when it waits for approval.
    @discardableResult
    public func setRetention(desk name: String, days: Int, caller: Caller) async throws -> Bool {
        guard days >= minRetentionDays else {
            throw VaultError.invalid("retention \(days) days is below this vault's floor of \(minRetentionDays) days")
        }
        return try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let applies = days >= desk.retentionDays
            try self.updateAuthenticated(
                db, .desk, table: "desks", key: ("id", Data(desk.id.bytes)), fields: Self.deskFields,
                change: applies
                    ? ["retention_days": days, "pending_retention_days": nil] : ["pending_retention_days": days])
            try self.record(
                db, caller, "retention.change", "desk:\(name) days:\(days) \(applies ? "applied" : "pending-approval")")
            return applies
        }
    }

    /// A supervisor of the desk approves a pending shortening.
    public func approveRetention(desk name: String, as user: UnlockedUser, requestID: String) async throws -> Int {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<Int, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a confirmed supervisor of \(name) approves retention changes")
            {
                return try self.refuse(db, caller, "retention.change", "desk:\(name) approval", e)
            }
            guard
                let pending = try Int.fetchOne(
                    db, sql: "SELECT pending_retention_days FROM desks WHERE id = ?", arguments: [Data(desk.id.bytes)])
            else { throw VaultError.conflict("no retention change is waiting for approval on \(name)") }
            try self.updateAuthenticated(
                db, .desk, table: "desks", key: ("id", Data(desk.id.bytes)), fields: Self.deskFields,
                change: ["retention_days": pending, "pending_retention_days": nil])
            try self.record(db, caller, "retention.change", "desk:\(name) days:\(pending) approved")
            return .success(pending)
        }
        return try outcome.get()
    }

    /// What an unsend does to the stored message on this desk.
    public func setUnsendPolicy(desk name: String, policy: String, caller: Caller) async throws {
        guard policy == "keep-marked" || policy == "delete" else {
            throw VaultError.invalid("--policy must be keep-marked or delete")
        }
        try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            try self.updateAuthenticated(
                db, .desk, table: "desks", key: ("id", Data(desk.id.bytes)), fields: Self.deskFields,
                change: ["unsend_policy": policy])
            try self.record(db, caller, "retention.change", "desk:\(name) unsend:\(policy)")
        }
    }

    /// Crypto-shreds closed cases past their desk's retention that are not on hold. Each case goes in its own
    /// transaction: its messages with every child row (`MessageStore`), its key wraps, epochs, grants, requests,
    /// read positions and outbox items, then the case row (with secure_delete the freed pages are zeroed); recorded
    /// as `purge case:<id>` with a signed purge note naming that case, in the same transaction. A case that cannot
    /// be deleted is rolled back alone, recorded with outcome `error` (logged at error level, no id) and tried again
    /// next run; the others still go. A summary entry follows (outcome `error` when a case failed), then the WAL
    /// is checkpointed and truncated so no old page image survives.
    /// - Throws: when the access log cannot be written (nothing is deleted without its entry).
    public func purge(dryRun: Bool, caller: Caller) async throws -> PurgeReport {
        let now = now()
        let due: [(id: ID, held: Bool)] = try await database.read { db in
            try Row.fetchAll(db, sql: Self.dueCases + " ORDER BY c.closed_at, c.id", arguments: [now]).compactMap {
                row in
                ID(bytes: Array(row["id"] as Data)).map { ($0, (row["hold"] as Int) != 0) }
            }
        }
        var report = PurgeReport()
        report.held = due.filter(\.held).count
        let ids = due.filter { !$0.held }.map(\.id)
        if dryRun {
            let counts = try await database.read { db in try ids.map { try Self.shredCounts(db, $0) } }
            report.cases = ids
            report.messages = counts.reduce(0) { $0 + $1.messages }
            report.wraps = counts.reduce(0) { $0 + $1.wraps }
            return report
        }
        for id in ids {
            do {
                let done: (messages: Int, wraps: Int)? = try await database.transaction { db in
                    // Asked again under the write lock: the case may have been reopened, held or purged since.
                    guard
                        try Row.fetchOne(
                            db, sql: Self.dueCases + " AND c.hold = 0 AND c.id = ?", arguments: [now, Data(id.bytes)])
                            != nil
                    else { return nil }
                    // Shred only on authenticated state: the case's hold, status and closed time and the desk's
                    // retention carry MACs, so a database writer cannot make a held or recent case due (a mismatch
                    // throws: recorded as a failure, nothing deleted).
                    guard let c = try self.findCase(db, id: id), c.status == "closed", !c.hold, let closed = c.closedAt,
                        closed <= now - Int64(try self.desk(db, id: c.deskID).retentionDays) * 86_400_000
                    else { return nil }
                    let counts = try Self.shredCase(db, id)
                    try self.record(db, caller, "purge", "case:\(id)")
                    try self.checkpoint(db, kind: .purge, purgedCases: [id], force: true)
                    return counts
                }
                guard let done else { continue }
                report.cases.append(id)
                report.messages += done.messages
                report.wraps += done.wraps
            } catch {
                try await recordPurgeFailure(error, caller: caller, target: "case:\(id)")
                report.failed.append(id)
            }
        }
        if !report.cases.isEmpty || report.held > 0 || !report.failed.isEmpty {
            let summary =
                "cases:\(report.cases.count) messages:\(report.messages) wraps:\(report.wraps) held:\(report.held)"
                + " failed:\(report.failed.count)"
            let outcome: AuditEntry.Outcome = report.failed.isEmpty ? .allowed : .error
            try await database.transaction { db in try self.record(db, caller, "purge", summary, outcome) }
        }
        if !report.cases.isEmpty { try await truncateWAL() }
        return report
    }

    /// Re-applies a purge (restore): removes exactly these cases if they are present, each in its own transaction
    /// as `purge` does, recorded with a purge note. Every case is tried; a failure is recorded with outcome `error`.
    /// - Returns: the ids that were present and removed.
    /// - Throws: `.conflict` after trying them all when a case could not be removed (the restore must not complete
    ///   with data the live vault had purged).
    func purgeCases(_ ids: [ID], caller: Caller) async throws -> [ID] {
        var removed: [ID] = []
        var failed = 0
        for id in ids {
            do {
                let done: Bool = try await database.transaction { db in
                    // A signed purge note names it: removed whatever its row says.
                    guard try self.caseExists(db, id: id) else { return false }
                    try Self.shredCase(db, id)
                    try self.record(db, caller, "purge", "case:\(id) reapplied")
                    try self.checkpoint(db, kind: .purge, purgedCases: [id], force: true)
                    return true
                }
                if done { removed.append(id) }
            } catch {
                try await recordPurgeFailure(error, caller: caller, target: "case:\(id) reapplied")
                failed += 1
            }
        }
        if !removed.isEmpty { try await truncateWAL() }
        guard failed == 0 else {
            throw VaultError.conflict(
                "\(failed) purged case(s) could not be removed again; see the access log (purge, outcome error)")
        }
        return removed
    }

    /// Closed cases past their desk's retention, held or not; takes `now`.
    static let dueCases = """
        SELECT c.id, c.hold FROM cases c JOIN desks d ON d.id = c.desk_id
        WHERE c.status = 'closed' AND c.closed_at IS NOT NULL AND c.closed_at <= ? - d.retention_days * 86400000
        """

    /// Deletes a case and every row that refers to it (schema/schema.sql: every table with a `case_id`, a
    /// `message_id` or a case epoch key id), children first.
    /// - Returns: the message rows and key wraps that went.
    @discardableResult
    static func shredCase(_ db: Database, _ id: ID) throws -> (messages: Int, wraps: Int) {
        let cid = Data(id.bytes)
        let messages = try MessageStore.deleteAll(db, caseID: id)
        let wraps = try deleteCaseWraps(db, case: id)
        for table in [
            "outbox", "case_record_codes", "case_records", "auto_replies_sent", "auto_busy_pending", "case_reopens",
            "case_keyword_flags", "case_reads", "case_grants", "access_requests", "disclosures", "sender_sessions",
            "case_epochs",
        ] {
            try db.execute(sql: "DELETE FROM \(table) WHERE case_id = ?", arguments: [cid])
        }
        try deleteCaseRow(db, id: id)
        return (messages, wraps)
    }

    /// What `shredCase` would remove (a dry run).
    static func shredCounts(_ db: Database, _ id: ID) throws -> (messages: Int, wraps: Int) {
        (
            try MessageStore.count(db, caseID: id),
            try countCaseWraps(db, case: id)
        )
    }

    /// Records a case that could not be purged (its transaction was rolled back) and logs it without its id.
    private func recordPurgeFailure(_ error: Error, caller: Caller, target: String) async throws {
        let code = (error as? VaultError)?.code.rawValue ?? "other"
        logger.error(
            "purge: a case due for deletion could not be deleted; it stays until the next purge",
            metadata: ["error": "\(code)"])
        try await database.transaction { db in try self.record(db, caller, "purge", target, .error) }
    }

    private func truncateWAL() async throws {
        try await database.writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
