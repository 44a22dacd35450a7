import Foundation

/// `DIR/audit-checkpoints.log`: the signed notes, one JSON line each, outside the database so that a
/// database writer cannot rewrite the log's anchors. Appends are fsync'd; the file is never rewritten.
public struct CheckpointFile: Sendable {
    public let url: URL

    public init(directory: URL) { url = directory.appendingPathComponent("audit-checkpoints.log") }

    public init(url: URL) { self.url = url }

    /// Appends one line and fsyncs it (and the folder, when the file is new).
    /// - Throws: `VaultError.auditUnavailable` when the file cannot be written.
    public func append(_ line: [UInt8]) throws {
        let existed = FileManager.default.fileExists(atPath: url.path)
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError(.auditUnavailable, "cannot open \(url.lastPathComponent) for appending") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else {
            throw VaultError(.auditUnavailable, "cannot write \(url.lastPathComponent); check the disk")
        }
        if !existed {
            let dir = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dir >= 0 {
                _ = fsync(dir)
                close(dir)
            }
        }
    }

    /// The file's bytes, or nil when there is no file yet.
    public func contents() -> [UInt8]? {
        FileManager.default.contents(atPath: url.path).map { Array($0) }
    }
}
