import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// `DIR/audit-checkpoints.log`.
    public var checkpointFile: CheckpointFile { checkpointAppender.file }

    /// Signs a note over the current chain head inside the caller's write transaction, stores it, and appends
    /// it to `audit-checkpoints.log` once that transaction commits (so the file never anchors an entry that
    /// was rolled back; inside a group-commit batch, once the batch commits with the calling write in it). Call it
    /// in the same transaction as a break-glass start. A checkpoint is skipped when the newest note already anchors
    /// the head, unless `force` (signing-key rotation, restore, purge).
    /// - Parameters:
    ///   - kind: `.checkpoint`, or `.restore` / `.purge` for the lifecycle's notes.
    ///   - purgedCases: the case ids a purge note names.
    ///   - signers: the keys that sign (default: the vault's signing key; old and new at rotation).
    /// - Returns: the stored note, or nil when skipped.
    @discardableResult
    public func checkpoint(
        _ db: Database, kind: AuditNote.Kind = .checkpoint, purgedCases: [ID] = [], force: Bool = false,
        signers: [SigningKeyPair]? = nil
    ) throws -> SignedNote? {
        let head = try Row.fetchOne(db, sql: "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = head?["seq"] ?? 0
        let hash: [UInt8] = head.map { Array($0["hash"] as Data) } ?? AuditLog.genesis
        if kind == .checkpoint, !force {
            let newest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_notes") ?? -1
            if newest >= seq || seq == 0 { return nil }
        }
        let note = AuditNote(
            kind: kind, origin: keys.noteName, seq: seq, hash: hash, time: now(),
            purgedCases: purgedCases.map { "case:\($0)" })
        let signed = SignedNote(text: note.text, name: keys.noteName, signers: signers ?? [keys.signing])
        try db.execute(
            sql: "INSERT INTO audit_notes (kind, seq, time, note) VALUES (?, ?, ?, ?)",
            arguments: [kind.rawValue, seq, note.time, signed.encoded])
        let rowID = db.lastInsertedRowID
        let stored = signed.encoded
        let line = signed.line(kind: kind)
        let appender = checkpointAppender
        // The line is written only once the write holding the note has committed, and only if the note is then
        // really stored: a rolled-back note (a throw, a failed COMMIT, SQLite's own rollback after a disk-full error,
        // a group-commit savepoint) never reaches the file, where it would fail `audit verify` for ever.
        let append: @Sendable (Database) -> Void = { db in
            guard
                (try? String.fetchOne(db, sql: "SELECT note FROM audit_notes WHERE id = ?", arguments: [rowID]))
                    == stored
            else { return }
            appender.append(line)
        }
        guard database.afterCommit(append) else {
            throw VaultError(.internalError, "a checkpoint must be signed inside a vault transaction")
        }
        return signed
    }

    /// Checkpoints the head in a transaction of its own (timer, shutdown, CLI).
    /// - Throws: `VaultError.auditUnavailable` / `.storageUnavailable` when the database cannot be written.
    @discardableResult
    public func checkpoint(force: Bool = false) async throws -> SignedNote? {
        try await database.transaction { db in try self.checkpoint(db, force: force) }
    }

    /// Called after every append: checkpoints when `seq` is a multiple of `settings.checkpointEvery`.
    func checkpointIfDue(_ db: Database, seq: Int64) throws {
        let every = Int64(settings.checkpointEvery)
        if every > 0, seq % every == 0 { try checkpoint(db) }
    }

    /// Every stored note, oldest first.
    public func auditNotes(upTo seq: Int64 = .max) async throws -> [(
        kind: AuditNote.Kind, seq: Int64, time: Int64, note: String
    )] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT kind, seq, time, note FROM audit_notes WHERE seq <= ? ORDER BY id", arguments: [seq]
            ).map { row in
                (AuditNote.Kind(rawValue: row["kind"]) ?? .checkpoint, row["seq"], row["time"], row["note"])
            }
        }
    }
}
