import Logging
import ServiceLifecycle
import VaultCore

/// Signs a checkpoint at start, every `settings.checkpointSeconds` when entries were added, and once more at
/// graceful shutdown (after the HTTP server has stopped, so the last requests' entries are anchored).
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
        do {
            if let note = try await vault.checkpoint() {
                logger.debug("signed a checkpoint", metadata: ["why": "\(why)", "bytes": "\(note.encoded.utf8.count)"])
            }
        } catch {
            logger.error("could not sign a checkpoint", metadata: ["why": "\(why)"])
        }
    }
}
