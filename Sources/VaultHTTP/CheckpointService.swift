import Logging
import ServiceLifecycle
import VaultCore

/// Signs a checkpoint at start, every `settings.checkpointSeconds` when entries were added, and once more at
/// graceful shutdown (after the HTTP server has stopped, so the last requests' entries are anchored). Each round
/// also compares the database schema with the golden one.
struct CheckpointService: Service {
    let vault: Vault
    let logger: Logger

    func run() async throws {
        await checkpoint("start")
        let seconds = max(1, vault.settings.checkpointSeconds)
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(seconds))
                await checkpoint("timer")
            }
        }
        await checkpoint("shutdown")
    }

    private func checkpoint(_ why: String) async {
        // The schema check is a small sqlite_master read: a trigger planted while serving is reported here too, not
        // only when /readyz is polled (appends already fail closed).
        do {
            try await vault.database.verifySchemaAsync()
        } catch {
            logger.critical(
                "the database schema was altered outside the vault; see ops/RUNBOOK.md (integrity_failure)",
                metadata: ["why": "\(why)"])
        }
        do {
            if let note = try await vault.checkpoint() {
                logger.debug("signed a checkpoint", metadata: ["why": "\(why)", "bytes": "\(note.encoded.utf8.count)"])
            }
        } catch {
            logger.error("could not sign a checkpoint", metadata: ["why": "\(why)"])
        }
    }
}
