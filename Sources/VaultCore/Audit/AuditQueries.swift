import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Entries for the auditor, oldest first, reasons decrypted. The read itself is recorded (`audit.read`).
    /// - Throws: `.forbidden` (recorded) for anyone but an auditor.
    public func auditEvents(_ q: AuditEventQuery, as user: UnlockedUser, requestID: String) async throws -> [AuditEvent]
    {
        try await requireAuditor(user, "audit.read", "audit:events", requestID: requestID)
        return try await database.transaction { db in
            try self.record(db, user.caller(requestID: requestID), "audit.read", "audit:events")
            var sql = "SELECT * FROM access_log WHERE seq > ?"
            var args: [DatabaseValueConvertible?] = [q.after]
            if let actor = q.actor {
                sql += " AND actor = ?"
                args.append(actor)
            }
            if let action = q.action {
                sql += " AND action = ?"
                args.append(action)
            }
            if let c = q.caseID {
                sql += " AND (target = ? OR target LIKE ? ESCAPE '\\')"
                args.append("case:\(c)")
                args.append("case:\(c) %")
            }
            if let outcome = q.outcome {
                sql += " AND outcome = ?"
                args.append(outcome.rawValue)
            }
            if let since = q.since {
                sql += " AND time >= ?"
                args.append(since)
            }
            if let until = q.until {
                sql += " AND time < ?"
                args.append(until)
            }
            if let before = q.before {
                sql += " AND seq < ?"
                args.append(before)
            }
            sql += q.before == nil ? " ORDER BY seq LIMIT ?" : " ORDER BY seq DESC LIMIT ?"
            args.append(min(max(q.limit, 1), 1000))
            let key = try self.openAuditorsKey(db, as: user)
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            return (q.before == nil ? rows : rows.reversed()).map { row in
                let e = AuditLog.decode(row)
                return AuditEvent(entry: e, reason: self.openReason(e.reasonSealed, with: key))
            }
        }
    }

    /// The stored signed notes, oldest first (recorded as `audit.read`).
    public func auditCheckpoints(as user: UnlockedUser, requestID: String) async throws -> [StoredAuditNote] {
        try await requireAuditor(user, "audit.read", "audit:checkpoints", requestID: requestID)
        return try await database.transaction { db in
            try self.record(db, user.caller(requestID: requestID), "audit.read", "audit:checkpoints")
            return try Row.fetchAll(db, sql: "SELECT kind, seq, time, note FROM audit_notes ORDER BY id").map { row in
                StoredAuditNote(
                    kind: AuditNote.Kind(rawValue: row["kind"]) ?? .checkpoint, seq: row["seq"], time: row["time"],
                    note: row["note"])
            }
        }
    }

    /// Authorizes and records (`audit.read`) an auditor's export; then stream it with `writeAuditExport`.
    /// - Throws: `.forbidden` (recorded) for anyone but an auditor.
    public func beginAuditExport(as user: UnlockedUser, requestID: String) async throws {
        try await requireAuditor(user, "audit.read", "audit:export", requestID: requestID)
        try await recordAuditRead(user.caller(requestID: requestID), target: "audit:export")
    }

    /// Records that `caller` read the log (the CLI's export, verify and report).
    public func recordAuditRead(_ caller: Caller, target: String) async throws {
        try await database.transaction { db in try self.record(db, caller, "audit.read", target) }
    }

    /// The break-glass review queue: every `breakglass.start` with its reason and review state, oldest first.
    public func breakGlassQueue(as user: UnlockedUser, requestID: String) async throws -> [BreakGlassItem] {
        try await requireAuditor(user, "audit.read", "audit:break-glass", requestID: requestID)
        return try await database.transaction { db in
            try self.record(db, user.caller(requestID: requestID), "audit.read", "audit:break-glass")
            let key = try self.openAuditorsKey(db, as: user)
            return try self.breakGlassItems(db, key: key, since: nil, until: nil)
        }
    }

    func breakGlassItems(_ db: Database, key: AuditorsKeyring?, since: Int64?, until: Int64?) throws -> [BreakGlassItem]
    {
        try Row.fetchAll(
            db,
            sql: """
                SELECT l.*, r.reviewer AS r_reviewer, r.reviewed_at AS r_at, rl.reason_sealed AS r_comment
                FROM access_log l LEFT JOIN audit_reviews r ON r.breakglass_seq = l.seq
                LEFT JOIN access_log rl ON rl.seq = r.review_seq
                WHERE l.action = 'breakglass.start' AND l.time >= ? AND l.time < ? ORDER BY l.seq
                """, arguments: [since ?? Int64.min, until ?? Int64.max]
        ).map { row in
            let e = AuditLog.decode(row)
            guard try authenticReview(db, breakglassSeq: e.seq) else {
                return BreakGlassItem(
                    event: AuditEvent(entry: e, reason: openReason(e.reasonSealed, with: key)), reviewer: nil,
                    comment: nil, reviewedAt: nil)
            }
            return BreakGlassItem(
                event: AuditEvent(entry: e, reason: openReason(e.reasonSealed, with: key)), reviewer: row["r_reviewer"],
                comment: openReason((row["r_comment"] as Data?).map { Array($0) }, with: key), reviewedAt: row["r_at"])
        }
    }

    /// Whether break-glass `seq` has a review the vault wrote: an `audit_reviews` row carrying its MAC whose
    /// review entry in the log is a `breakglass.review` of that seq by the same reviewer. A row inserted or edited
    /// outside the vault counts as no review (and as an integrity failure).
    func authenticReview(_ db: Database, breakglassSeq seq: Int64) throws -> Bool {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM audit_reviews WHERE breakglass_seq = ?"), arguments: [seq])
        else { return false }
        guard (try? checkAuthenticated(.review, row, fields: Self.reviewFields)) != nil,
            let entry = try Row.fetchOne(
                db, sql: "SELECT action, target, actor FROM access_log WHERE seq = ?", arguments: [row["review_seq"]]),
            (entry["action"] as String) == "breakglass.review", (entry["target"] as String) == "breakglass:\(seq)",
            (entry["actor"] as String) == (row["reviewer"] as String)
        else { return false }
        return true
    }

    /// Records an auditor's review of break-glass entry `seq` (action `breakglass.review`; the comment is sealed
    /// to the auditors' key like a reason).
    /// - Throws: `.forbidden` (recorded) for a non-auditor, `.notFound` when `seq` is no break-glass start,
    ///   `.conflict` when it was reviewed already.
    public func reviewBreakGlass(seq: Int64, comment: String, as user: UnlockedUser, requestID: String) async throws
        -> BreakGlassItem
    {
        let target = "breakglass:\(seq)"
        try await requireAuditor(user, "breakglass.review", target, requestID: requestID)
        guard !comment.isEmpty, comment.utf8.count <= 4000 else {
            throw VaultError.invalid("`comment` must be 1–4000 bytes")
        }
        return try await database.transaction { db in
            guard
                try String.fetchOne(db, sql: "SELECT action FROM access_log WHERE seq = ?", arguments: [seq])
                    == "breakglass.start"
            else { throw VaultError.notFound("seq \(seq) is not a break-glass start") }
            if try self.authenticReview(db, breakglassSeq: seq) {
                throw VaultError.conflict("break-glass seq \(seq) has been reviewed already")
            }
            // A row the vault did not write (no valid MAC) is no review: it gives way to the real one.
            try db.execute(sql: "DELETE FROM audit_reviews WHERE breakglass_seq = ?", arguments: [seq])
            try self.record(db, user.caller(requestID: requestID), "breakglass.review", target, reason: comment)
            let reviewSeq = try AuditLog.headSeq(db)
            try db.execute(
                sql:
                    "INSERT INTO audit_reviews (breakglass_seq, review_seq, reviewer, reviewed_at) VALUES (?, ?, ?, ?)",
                arguments: [seq, reviewSeq, user.username, self.now()])
            try self.authenticateNewRow(db, .review, table: "audit_reviews", key: ("breakglass_seq", seq))
            let key = try self.openAuditorsKey(db, as: user)
            guard
                let item = try self.breakGlassItems(db, key: key, since: nil, until: nil).first(where: {
                    $0.event.entry.seq == seq
                })
            else { throw VaultError.notFound("seq \(seq) is not a break-glass start") }
            return item
        }
    }
}
