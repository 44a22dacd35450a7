import Foundation
import GRDB
import Metrics
import VaultCrypto

/// One access-log entry (DESIGN.md "Access log"). Never content, never a channel id.
public struct AuditEntry: Sendable, Equatable {
    public enum Outcome: String, Sendable { case allowed, denied, error }

    public var seq: Int64 = 0
    public var time: Int64
    public var actor: String
    public var role: String
    public var action: String
    public var target: String
    public var outcome: Outcome
    public var requestID: String
    public var envelopeHash: [UInt8]?
    public var reasonSealed: [UInt8]?
    public var hash: [UInt8] = []

    public init(
        time: Int64, actor: String, role: String, action: String, target: String, outcome: Outcome, requestID: String,
        envelopeHash: [UInt8]? = nil, reasonSealed: [UInt8]? = nil
    ) {
        self.time = time
        self.actor = actor
        self.role = role
        self.action = action
        self.target = target
        self.outcome = outcome
        self.requestID = requestID
        self.envelopeHash = envelopeHash
        self.reasonSealed = reasonSealed
    }

    /// canonical(u64 seq, u64 time, actor, role, action, target, outcome, request id, envelope hash, sealed reason).
    public var canonicalBytes: [UInt8] {
        Canonical.encode([
            Canonical.u64(seq), Canonical.u64(time), Array(actor.utf8), Array(role.utf8), Array(action.utf8),
            Array(target.utf8), Array(outcome.rawValue.utf8), Array(requestID.utf8), envelopeHash ?? [],
            reasonSealed ?? [],
        ])
    }

    /// hash_n = BLAKE2b-256(hash_{n-1} ‖ canonical entry).
    public func chainHash(previous: [UInt8]) -> [UInt8] {
        Hashing.blake2b(parts: [previous, canonicalBytes])
    }
}

/// The append-only, hash-chained access log. Appends happen inside the caller's write transaction,
/// so the entry commits with the action it records, or neither does (fail closed).
public enum AuditLog {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The seq of the newest entry (0 for an empty log).
    static func headSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log") ?? 0
    }

    /// Appends `entry` after the current head, read under the write lock. Inside a group-commit batch (`memo`),
    /// the head an earlier write of the same transaction appended is carried over instead of read again. A write
    /// whose savepoint is rolled back must drop the memo (GroupCommitter does): the head it left would point
    /// past the log, and the next entry would leave a gap (GroupCommitTests checks this).
    @discardableResult
    static func append(_ entry: AuditEntry, in db: Database, memo: BatchMemo?) throws -> AuditEntry {
        let started = ContinuousClock.now
        defer { Timer(label: "consultvault_audit_append_seconds").record(duration: ContinuousClock.now - started) }
        var e = entry
        let prevSeq: Int64
        let prevHash: [UInt8]
        if let head = memo?.auditHead {
            (prevSeq, prevHash) = head
        } else {
            let head = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1"))
            prevSeq = head?["seq"] ?? 0
            prevHash = head.map { Array(($0["hash"] as Data?) ?? Data()) } ?? genesis
        }
        e.seq = prevSeq + 1
        e.hash = e.chainHash(previous: prevHash)
        do {
            try db.cachedStatement(
                sql: """
                    INSERT INTO access_log (seq, time, actor, role, action, target, outcome, request_id, envelope_hash,
                        reason_sealed, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    e.seq, e.time, e.actor, e.role, e.action, e.target, e.outcome.rawValue, e.requestID,
                    e.envelopeHash.map { Data($0) }, e.reasonSealed.map { Data($0) }, Data(e.hash),
                ])
        } catch {
            throw VaultError(
                .auditUnavailable, "the access log could not be written; nothing was served. Check the disk.")
        }
        // Exactly this row must now be in the log: a trigger planted in the database (`RAISE(IGNORE)`) would make
        // the INSERT succeed without storing anything, and the action would go unlogged (fail closed instead).
        var stored: Data?
        if db.changesCount == 1 {
            stored = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT hash FROM access_log WHERE seq = ?"), arguments: [e.seq])
        }
        guard let stored, Array(stored) == e.hash else {
            throw VaultError.integrity(
                "the access log did not keep entry \(e.seq); nothing was served. The database schema was altered "
                    + "outside the vault; see ops/RUNBOOK.md (integrity_failure)")
        }
        memo?.auditHead = (e.seq, e.hash)
        return e
    }

    /// Appends `entry` after the current head (read here, under the write lock).
    @discardableResult
    public static func append(_ entry: AuditEntry, in db: Database) throws -> AuditEntry {
        try append(entry, in: db, memo: nil)
    }

    /// Entries in seq order (for tests and the auditor tools).
    public static func entries(in db: Database, after: Int64 = 0, limit: Int = 1000) throws -> [AuditEntry] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM access_log WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, limit]
        ).map(decode)
    }

    /// Recomputes the whole chain; returns the first bad seq, or nil when it holds.
    public static func firstBrokenSeq(in db: Database) throws -> Int64? {
        var prev = genesis
        var expected: Int64 = 1
        let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM access_log ORDER BY seq")
        while let row = try cursor.next() {
            let e = decode(row)
            guard e.seq == expected, e.chainHash(previous: prev) == e.hash else { return e.seq }
            prev = e.hash
            expected += 1
        }
        return nil
    }

    static func decode(_ row: Row) -> AuditEntry {
        var e = AuditEntry(
            time: row["time"], actor: row["actor"], role: row["role"], action: row["action"], target: row["target"],
            outcome: AuditEntry.Outcome(rawValue: row["outcome"]) ?? .error, requestID: row["request_id"],
            envelopeHash: (row["envelope_hash"] as Data?).map { Array($0) },
            reasonSealed: (row["reason_sealed"] as Data?).map { Array($0) })
        e.seq = row["seq"]
        e.hash = Array((row["hash"] as Data?) ?? Data())
        return e
    }
}
