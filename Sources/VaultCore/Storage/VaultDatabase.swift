import Foundation
import GRDB

/// The vault's SQLite database: WAL, synchronous=FULL on the writer, foreign keys, secure_delete,
/// named append-only migrations. Every write goes through `transaction`, a `BEGIN IMMEDIATE`
/// transaction, so the audit chain head is read under the write lock.
public struct VaultDatabase: Sendable {
    public let writer: DatabasePool
    /// The database file (the background checkpointer opens its own connection to it).
    let path: String
    let group: GroupCommitter
    /// Work queued by the plain transaction running on the writer now, run only once it has committed.
    let hooks = CommitHooks()
    /// Whether the last write failed for the storage (disk full, I/O): `/readyz` then probes with a real write.
    let health = WriteHealth()

    /// Opens (creating if needed) and migrates the database at `path`.
    /// - Throws: `VaultError.storageUnavailable` when SQLite cannot open or migrate it.
    public init(path: String, readonly: Bool = false) throws {
        try self.init(path: path, readonly: readonly, stateMAC: nil)
    }

    init(path: String, readonly: Bool, stateMAC: StateMAC?) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.readonly = readonly
        config.label = "vault"
        config.publicStatementArguments = false  // never put values in errors or traces
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            writer = pool
            self.path = path
            group = GroupCommitter(writer: pool, health: health)
            if !readonly {
                // GRDB sets synchronous=NORMAL on the writer after prepareDatabase (shared/FACTS.md).
                try writer.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
                try Self.migrator(stateMAC: stateMAC).migrate(writer)
            }
        } catch {
            throw VaultError(.storageUnavailable, "cannot open the vault database at \(path): \(Self.describe(error))")
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer, committing on success.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.writeWithoutTransaction { db in try self.committing(db, body) }
        } catch let e as VaultError {
            health.note(e)
            throw e
        } catch let e as DatabaseError {
            throw health.note(Self.map(e))
        }
    }

    /// One `BEGIN IMMEDIATE` transaction; what it queued with `afterCommit` runs only once COMMIT has returned, and is
    /// dropped when the transaction rolls back, however it does (a throw, a failed COMMIT, or SQLite's own rollback
    /// after a disk-full or I/O error, which GRDB's `afterNextTransaction` does not report).
    private func committing<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        var result: T?
        let queued = hooks.begin()
        defer { hooks.end() }
        try db.inTransaction(.immediate) {
            result = try body(db)
            return .commit
        }
        health.succeeded()
        for action in queued.actions { action(db) }
        return result!
    }

    /// Queues `action` to run on the writer once the current write has committed: the calling write of a group-commit
    /// batch (dropped if its savepoint rolls back) or the plain transaction running now. False outside both.
    func afterCommit(_ action: @escaping @Sendable (Database) -> Void) -> Bool {
        if let memo = batchMemo {
            memo.afterCommit.append(action)
            return true
        }
        return hooks.enqueue(action)
    }

    /// Runs `body` in the next group-commit batch (see `GroupCommitter`): many concurrent callers share one
    /// `BEGIN IMMEDIATE` transaction and one fsync; each body runs in its own savepoint, so one that throws
    /// is rolled back alone. Returns only once the batch holding this write is durable.
    /// - Throws: what `body` threw, or `.storageUnavailable` when the batch could not commit.
    public func batched<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await group.submit(body)
    }

    /// The memo of the group-commit batch running on the writer now (nil outside a batch).
    var batchMemo: BatchMemo? { group.memo }

    /// Group-commit counters since start: committed batches and the writes they held.
    public var batchStatistics: (batches: Int, writes: Int) { group.statistics }

    /// Synchronous variant for the CLI and tests.
    public func transactionSync<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.writeWithoutTransaction { db in try self.committing(db, body) }
        } catch let e as VaultError {
            health.note(e)
            throw e
        } catch let e as DatabaseError {
            throw health.note(Self.map(e))
        }
    }

    /// Reads from a snapshot (no write lock).
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch let e as VaultError {
            throw e
        } catch let e as DatabaseError {
            throw Self.map(e)
        }
    }

    /// The writer connection's `synchronous` setting (2 = FULL), asked of the writer itself.
    public func writerSynchronousMode() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static func map(_ e: DatabaseError) -> VaultError {
        if e.message?.contains("access_log") == true || e.message?.contains("audit_notes") == true {
            return VaultError(
                .auditUnavailable,
                "the access log could not be written; nothing was served. Check the disk and the database.")
        }
        switch e.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED,
            .SQLITE_CORRUPT:
            return VaultError(
                .storageUnavailable, "the vault database is not writable right now (\(e.resultCode)); retry later")
        case .SQLITE_CONSTRAINT:
            return VaultError(.conflict, "the change conflicts with stored data")
        default:
            return VaultError(.storageUnavailable, "database error (\(e.resultCode))")
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError { return "\(e.resultCode)" }
        return String(describing: type(of: error))
    }
}
