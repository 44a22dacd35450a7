import Foundation
import GRDB
import VaultCrypto

/// What a purge removed (or would remove): case ids and counts, never content.
public struct PurgeReport: Sendable, Equatable {
    public var cases: [ID] = []
    public var messages = 0
    public var wraps = 0
    public var held = 0
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
        let outcome: WorkedOutcome<Int> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            guard user.role == .supervisor, try self.isConfirmedMember(db, deskID: desk.id, userID: user.id) else {
                try self.record(db, caller, "retention.change", "desk:\(name) approval", .denied)
                return .denied
            }
            guard
                let pending = try Int.fetchOne(
                    db, sql: "SELECT pending_retention_days FROM desks WHERE id = ?", arguments: [Data(desk.id.bytes)])
            else { throw VaultError.conflict("no retention change is waiting for approval on \(name)") }
            try self.updateAuthenticated(
                db, .desk, table: "desks", key: ("id", Data(desk.id.bytes)), fields: Self.deskFields,
                change: ["retention_days": pending, "pending_retention_days": nil])
            try self.record(db, caller, "retention.change", "desk:\(name) days:\(pending) approved")
            return .done(pending)
        }
        guard case .done(let days) = outcome else {
            throw VaultError.forbidden("only a confirmed supervisor of \(name) approves retention changes")
        }
        return days
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

    /// Crypto-shreds closed cases past their desk's retention that are not on hold: message rows, key wraps,
    /// epochs, grants and requests go in one transaction (with secure_delete the freed pages are zeroed), then the
    /// WAL is checkpointed and truncated so no old page image survives. Recorded with case ids and counts.
    public func purge(dryRun: Bool, caller: Caller) async throws -> PurgeReport {
        let now = now()
        let report: PurgeReport = try await database.transaction { db in
            var report = PurgeReport()
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.id, c.hold FROM cases c JOIN desks d ON d.id = c.desk_id
                    WHERE c.status = 'closed' AND c.closed_at IS NOT NULL AND c.closed_at <= ? - d.retention_days * 86400000
                    """, arguments: [now])
            for row in due {
                guard let id = ID(bytes: Array(row["id"] as Data)) else { continue }
                // Shred only on authenticated state: the case's hold, status and closed time and the desk's
                // retention carry MACs (a database writer cannot make a held case due).
                guard let c = try self.findCase(db, id: id), c.status == "closed", let closed = c.closedAt,
                    closed <= now - Int64(try self.desk(db, id: c.deskID).retentionDays) * 86_400_000
                else { continue }
                if c.hold {
                    report.held += 1
                    continue
                }
                report.cases.append(id)
                let cid = Data(id.bytes)
                report.messages +=
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [cid]) ?? 0
                report.wraps +=
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT count(*) FROM key_wraps WHERE key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)",
                        arguments: [cid]) ?? 0
                guard !dryRun else { continue }
                for sql in Self.purgeStatements { try db.execute(sql: sql, arguments: [cid]) }
                try self.record(db, caller, "purge", "case:\(id)")
            }
            if !dryRun, !report.cases.isEmpty || report.held > 0 {
                try self.record(
                    db, caller, "purge",
                    "cases:\(report.cases.count) messages:\(report.messages) wraps:\(report.wraps) held:\(report.held)")
            }
            if !dryRun, !report.cases.isEmpty {
                // A signed purge note outside the database: a restore re-applies it to older backups.
                try self.checkpoint(db, kind: .purge, purgedCases: report.cases, force: true)
            }
            return report
        }
        if !dryRun, !report.cases.isEmpty {
            try await database.writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        return report
    }

    /// Re-applies a purge (restore): removes exactly these cases if they are present; recorded with a purge note.
    /// - Returns: the ids that were present and removed.
    func purgeCases(_ ids: [ID], caller: Caller) async throws -> [ID] {
        let removed: [ID] = try await database.transaction { db in
            var removed: [ID] = []
            for id in ids where try self.findCase(db, id: id) != nil {
                for sql in Self.purgeStatements { try db.execute(sql: sql, arguments: [Data(id.bytes)]) }
                try self.record(db, caller, "purge", "case:\(id) reapplied")
                removed.append(id)
            }
            if !removed.isEmpty { try self.checkpoint(db, kind: .purge, purgedCases: removed, force: true) }
            return removed
        }
        if !removed.isEmpty {
            try await database.writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        return removed
    }

    /// Children first; every statement takes the case id.
    static let purgeStatements = [
        "DELETE FROM key_wraps WHERE key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)",
        "DELETE FROM messages WHERE case_id = ?",
        "DELETE FROM case_reads WHERE case_id = ?",
        "DELETE FROM case_grants WHERE case_id = ?",
        "DELETE FROM access_requests WHERE case_id = ?",
        "DELETE FROM case_epochs WHERE case_id = ?",
        "DELETE FROM cases WHERE id = ?",
    ]
}
