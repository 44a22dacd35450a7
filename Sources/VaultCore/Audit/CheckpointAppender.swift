import Foundation
import Logging
import Synchronization

/// Appends committed notes to `audit-checkpoints.log` in commit order. A line that cannot be written (disk full, a
/// read-only file) is kept and written before the next one, at the next append or readiness probe; while any line
/// waits, the vault is not ready (`/readyz` answers 503).
final class CheckpointAppender: Sendable {
    let file: CheckpointFile
    private let pending = Mutex<[[UInt8]]>([])
    private let logger: Logger

    init(file: CheckpointFile, logger: Logger) {
        self.file = file
        self.logger = logger
    }

    /// Queues `line` behind any that wait and writes them all, in order.
    func append(_ line: [UInt8]) {
        pending.withLock { $0.append(line) }
        if !flush() {
            logger.error("a signed note could not be appended to audit-checkpoints.log; it is kept and retried")
        }
    }

    /// Writes every waiting line; true when none is left.
    @discardableResult
    func flush() -> Bool {
        pending.withLock { lines in
            while let first = lines.first {
                do {
                    try file.append(first)
                } catch {
                    return false
                }
                lines.removeFirst()
            }
            return true
        }
    }

    /// Throws `.auditUnavailable` while a line waits or the file cannot be opened for appending.
    func checkWritable() throws {
        let unavailable = VaultError(
            .auditUnavailable, "audit-checkpoints.log cannot be written; check the disk and the file's permissions")
        guard flush() else { throw unavailable }
        let path = file.url.path
        if FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard fd >= 0 else { throw unavailable }
            close(fd)
        } else {
            guard access(file.url.deletingLastPathComponent().path, W_OK) == 0 else { throw unavailable }
        }
    }
}
