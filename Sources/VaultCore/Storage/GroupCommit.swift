import Foundation
import GRDB
import Metrics
import Synchronization

/// Group commit for the relay's hot path: concurrent writes queue here and share one durable
/// `BEGIN IMMEDIATE … COMMIT` (one WAL fsync under synchronous=FULL for the whole batch).
///
/// Each write runs inside its own SAVEPOINT, so a write that throws is rolled back alone and the
/// others in the batch still commit. A caller is resumed only after the COMMIT that holds its row
/// returned (durable), or with an error when that COMMIT failed (then none of the batch is stored).
/// There is no timer: while one batch commits, the next one gathers, so a lone request is never
/// delayed and a busy server commits in batches as large as its concurrency.
final class GroupCommitter: Sendable {
    private struct State {
        var queue: [any BatchedWrite] = []
        var draining = false
        var batches = 0
        var writes = 0
    }

    private let writer: DatabasePool
    private let health: WriteHealth
    private let state = Mutex(State())
    private let currentMemo = Mutex<BatchMemo?>(nil)
    let maxBatch: Int

    init(writer: DatabasePool, health: WriteHealth = WriteHealth(), maxBatch: Int = 256) {
        self.writer = writer
        self.health = health
        self.maxBatch = maxBatch
    }

    /// Runs `body` in the next batch transaction; returns once the batch is durable.
    /// - Throws: what `body` threw (its savepoint rolled back), or the mapped storage error of the batch.
    func submit<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let write = Write(body: body, continuation: continuation)
            let start = state.withLock { s -> Bool in
                s.queue.append(write)
                if s.draining { return false }
                s.draining = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// The memo of the batch transaction running now, on the writer's queue; nil outside a batch.
    var memo: BatchMemo? { currentMemo.withLock { $0 } }

    /// Committed batches and the writes they held, since start.
    var statistics: (batches: Int, writes: Int) { state.withLock { ($0.batches, $0.writes) } }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [any BatchedWrite] in
                let n = min(s.queue.count, maxBatch)
                let b = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                if b.isEmpty { s.draining = false }
                return b
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [any BatchedWrite]) async {
        do {
            try await writer.writeWithoutTransaction { db in
                var memo = BatchMemo()
                currentMemo.withLock { $0 = memo }
                defer { currentMemo.withLock { $0 = nil } }
                // What the batch's surviving writes asked to run once their rows are durable.
                var afterCommit: [@Sendable (Database) -> Void] = []
                // One named savepoint per write, through cached statements (GRDB's `inSavepoint` compiles its
                // SQL on every call).
                let begin = try db.cachedStatement(sql: "SAVEPOINT batch_write")
                let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT batch_write")
                let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT batch_write")
                try db.inTransaction(.immediate) {
                    for write in batch {
                        try begin.execute()
                        if write.run(db) {
                            afterCommit += memo.afterCommit
                            memo.afterCommit = []
                        } else {
                            // What the failed write did is undone, and so is anything it memoized or queued.
                            if db.isInsideTransaction { try rollback.execute() }
                            memo = BatchMemo()
                            currentMemo.withLock { $0 = memo }
                        }
                        // An I/O error can end the whole transaction; then nothing of the batch stands.
                        guard db.isInsideTransaction else { throw VaultError(.storageUnavailable, "batch aborted") }
                        try release.execute()
                    }
                    return .commit
                }
                health.succeeded()
                for action in afterCommit { action(db) }
            }
            state.withLock {
                $0.batches += 1
                $0.writes += batch.count
            }
            Recorder(label: VaultDatabase.batchSizeMetric, aggregate: true).record(batch.count)
            for write in batch { write.finish(batchError: nil) }
        } catch {
            let mapped: Error =
                (error as? DatabaseError).map(VaultDatabase.map) ?? (error as? VaultError)
                ?? VaultError(.storageUnavailable, "the batch could not be committed; retry")
            if let e = mapped as? VaultError { health.note(e) }
            for write in batch { write.finish(batchError: mapped) }
        }
    }
}

extension VaultDatabase {
    /// The histogram of committed group-commit batch sizes (writes per durable COMMIT) on /metrics; no labels.
    public static let batchSizeMetric = "consultvault_group_commit_batch_size"
}

/// What the writes of one batch transaction may share: facts read in this transaction that no batched write
/// changes (the verified desk, the relay token's liveness), so each is read once per batch, not once per write,
/// and the access log's head as the last write left it.
/// Valid only inside its batch (the transaction's snapshot); replaced after a write is rolled back. Used only on
/// the writer's queue.
final class BatchMemo: @unchecked Sendable {
    var desks: [String: DeskState] = [:]
    var liveRelays: Set<ID> = []
    /// The access-log entry this transaction appended last (see `AuditLog.append`).
    var auditHead: (seq: Int64, hash: [UInt8])?
    /// Work the write running now asks for once the batch has committed (`afterNextTransaction` would also
    /// run it for a write whose savepoint was rolled back). Dropped with the write when it rolls back.
    var afterCommit: [@Sendable (Database) -> Void] = []
}

/// One queued write, type-erased.
private protocol BatchedWrite: Sendable {
    /// Runs the write on the writer connection; false when it threw (its savepoint is rolled back).
    func run(_ db: Database) -> Bool
    /// Resumes the caller after the batch's COMMIT (or its failure).
    func finish(batchError: Error?)
}

private final class Write<T: Sendable>: BatchedWrite, @unchecked Sendable {
    // `result` is written on the writer's queue inside `run` and read in `finish` after the write
    // returned: the writer's serial queue and the await in between order the two.
    let body: @Sendable (Database) throws -> T
    let continuation: CheckedContinuation<T, Error>
    var result: Result<T, Error>?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, Error>) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database) -> Bool {
        do {
            result = .success(try body(db))
            return true
        } catch let e as DatabaseError {
            result = .failure(VaultDatabase.map(e))
            return false
        } catch {
            result = .failure(error)
            return false
        }
    }

    func finish(batchError: Error?) {
        switch (batchError, result) {
        case (let e?, .success?), (let e?, nil): continuation.resume(throwing: e)
        case (_, .failure(let e)?): continuation.resume(throwing: e)
        case (nil, .success(let v)?): continuation.resume(returning: v)
        case (nil, nil):
            continuation.resume(throwing: VaultError(.storageUnavailable, "the write did not run; retry"))
        }
    }
}
