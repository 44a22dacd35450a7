import Foundation
import GRDB

/// WAL checkpoints off the writer's path (`serve` only). By default SQLite's writer copies the WAL back into the
/// database file itself, inside the COMMIT that takes the WAL past 1,000 pages: a copy of some 4 MB and an fsync of
/// the database file, while every request of the next group-commit batch waits (a latency spike every ~15 batches
/// under load). Here a second connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` every `interval`: PASSIVE
/// never waits for the writer or readers, so commits go on while it copies; the writer's own automatic checkpoint
/// is raised to `fallbackCheckpointPages` (64 MB of WAL) and stays as the safety net should this loop fall behind or fail.
/// Durability is unchanged: each COMMIT still fsyncs the WAL (synchronous=FULL); a checkpoint only moves committed
/// pages from the WAL into the database file, and SQLite recovers from a crash in the middle of one.
extension VaultDatabase {
    /// The writer's own automatic checkpoint threshold, in pages, while the background checkpointer runs.
    public static let fallbackCheckpointPages = 16_384

    /// Runs background checkpoints until the task is cancelled; then the writer's automatic checkpoint goes back
    /// to SQLite's 1,000 pages. A checkpoint that fails is reported to `failed` (the loop goes on; the writer's
    /// fallback still bounds the WAL).
    /// - Throws: `VaultError.storageUnavailable` when the checkpoint connection cannot be opened.
    public func runBackgroundCheckpoints(
        every interval: Duration = .milliseconds(200), failed: @Sendable (String) -> Void = { _ in }
    ) async throws {
        var config = Configuration()
        config.label = "vault-checkpointer"
        config.busyMode = .timeout(10)
        config.publicStatementArguments = false
        let connection: DatabaseQueue
        do {
            connection = try DatabaseQueue(path: path, configuration: config)
            try await writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.fallbackCheckpointPages)")
            }
        } catch {
            throw VaultError(.storageUnavailable, "cannot open the checkpoint connection: \(Self.describe(error))")
        }
        defer {
            try? writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 1000") }
        }
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
            do {
                try await connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
            } catch {
                failed(Self.describe(error))
            }
        }
        try? await connection.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
    }
}
