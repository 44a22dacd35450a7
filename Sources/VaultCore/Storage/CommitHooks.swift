import GRDB
import Synchronization

/// Work a plain transaction queues for after its COMMIT (the checkpoint file's lines). Used only on the writer's
/// serial queue: `begin` and `end` bracket one transaction, so at most one queue is open at a time.
final class CommitHooks: Sendable {
    final class Queue: @unchecked Sendable {
        // Written and read only on the writer's queue, inside the transaction that owns it.
        var actions: [@Sendable (Database) -> Void] = []
    }

    private let current = Mutex<Queue?>(nil)

    func begin() -> Queue {
        let q = Queue()
        current.withLock { $0 = q }
        return q
    }

    func end() { current.withLock { $0 = nil } }

    /// False when no plain transaction is running (the caller falls back or refuses).
    func enqueue(_ action: @escaping @Sendable (Database) -> Void) -> Bool {
        current.withLock { q in
            guard let q else { return false }
            q.actions.append(action)
            return true
        }
    }
}

/// Whether the last write failed for the storage (disk full, I/O error, read-only file) and no commit has
/// succeeded since. `/readyz` answers 503 then until a probe write commits.
final class WriteHealth: Sendable {
    private let failing = Mutex(false)

    var isFailing: Bool { failing.withLock { $0 } }

    func succeeded() { failing.withLock { $0 = false } }

    /// Notes a storage or audit-log failure; returns the error for `throw`.
    @discardableResult
    func note(_ e: VaultError) -> VaultError {
        if e.code == .storageUnavailable || e.code == .auditUnavailable { failing.withLock { $0 = true } }
        return e
    }
}
