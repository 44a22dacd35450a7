import Foundation
import GRDB
import VaultCrypto

/// The one-file backup of a running vault (schema/FORMAT.md §11): `CVBACKUP` ‖ 0x01, then three sections each
/// u64 big-endian length ‖ bytes — metadata JSON, the database (a `VACUUM INTO` snapshot), the checkpoint log —
/// then the 32-byte BLAKE2b-256 of everything before it. keys/ is never inside: a stolen backup alone can neither
/// be read nor forge checkpoints.
public enum BackupArchive {
    static let magic: [UInt8] = Array("CVBACKUP".utf8) + [0x01]
    static let chunk = 1 << 20

    public struct Metadata: Codable, Sendable {
        public var vaultID: String
        public var createdAt: Int64
        public var lastSeq: Int64
    }

    /// Writes the archive from a database file and the checkpoint log bytes, streaming the database.
    static func write(to url: URL, metadata: Metadata, database: URL, checkpoints: [UInt8]) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let out = FileHandle(forWritingAtPath: url.path)
        else { throw VaultError(.storageUnavailable, "cannot create \(url.path)") }
        defer { try? out.close() }
        let hash = Blake2bStream()
        func emit(_ bytes: [UInt8]) throws {
            hash.update(bytes)
            try out.write(contentsOf: bytes)
        }
        try emit(magic)
        let meta = try JSONEncoder().encode(metadata)
        try emit(Canonical.u64(UInt64(meta.count)) + Array(meta))
        let size =
            (try FileManager.default.attributesOfItem(atPath: database.path)[.size] as? NSNumber)?.uint64Value ?? 0
        try emit(Canonical.u64(size))
        guard let db = FileHandle(forReadingAtPath: database.path) else {
            throw VaultError(.storageUnavailable, "cannot read the snapshot")
        }
        defer { try? db.close() }
        var copied: UInt64 = 0
        while let data = try db.read(upToCount: chunk), !data.isEmpty {
            try emit(Array(data))
            copied += UInt64(data.count)
        }
        guard copied == size else { throw VaultError(.storageUnavailable, "the snapshot changed while it was copied") }
        try emit(Canonical.u64(UInt64(checkpoints.count)) + checkpoints)
        try out.write(contentsOf: hash.finish())
        try out.synchronize()
    }

    /// Checks the archive's hash, then unpacks the database to `database` and returns metadata and checkpoint log.
    /// - Throws: `.integrity` for a damaged or foreign file.
    static func read(from url: URL, database: URL) throws -> (Metadata, [UInt8]) {
        let bad = VaultError.integrity("\(url.lastPathComponent) is not a ConsultVault backup or is damaged")
        guard let input = FileHandle(forReadingAtPath: url.path) else {
            throw VaultError.notFound("cannot read \(url.path)")
        }
        defer { try? input.close() }
        let total = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.uint64Value ?? 0
        guard total > UInt64(magic.count + 24 + 32) else { throw bad }
        // First pass: the hash over everything but the last 32 bytes.
        let hash = Blake2bStream()
        var remaining = total - 32
        while remaining > 0, let data = try input.read(upToCount: Int(min(UInt64(chunk), remaining))), !data.isEmpty {
            hash.update(Array(data))
            remaining -= UInt64(data.count)
        }
        guard let stored = try input.read(upToCount: 32), SecretBytes.constantTimeEquals(Array(stored), hash.finish())
        else { throw bad }
        try input.seek(toOffset: 0)
        func take(_ n: Int) throws -> [UInt8] {
            guard let d = try input.read(upToCount: n), d.count == n else { throw bad }
            return Array(d)
        }
        func length() throws -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
        guard try take(magic.count) == magic else { throw bad }
        let metaLength = try length()
        guard metaLength < 1 << 20 else { throw bad }
        guard let meta = try? JSONDecoder().decode(Metadata.self, from: Data(take(Int(metaLength)))) else { throw bad }
        var dbLength = try length()
        guard
            FileManager.default.createFile(
                atPath: database.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let out = FileHandle(forWritingAtPath: database.path)
        else { throw VaultError(.storageUnavailable, "cannot create \(database.path)") }
        defer { try? out.close() }
        while dbLength > 0 {
            let part = try take(Int(min(UInt64(chunk), dbLength)))
            try out.write(contentsOf: part)
            dbLength -= UInt64(part.count)
        }
        try out.synchronize()
        let logLength = try length()
        guard logLength <= total else { throw bad }
        let log = try take(Int(logLength))
        return (meta, log)
    }
}

/// What a restore did.
public struct RestoreSummary: Sendable {
    public var entries: Int64
    public var reappliedPurges: [ID]
}

extension Vault {
    /// A consistent online snapshot of this (possibly running) vault into `url`: the checkpoint log is read first,
    /// then the database is copied with `VACUUM INTO` (a read snapshot; writers go on), so every note in the
    /// archive anchors an entry inside it. Recorded as `backup`.
    public func backup(to url: URL, caller: Caller) async throws -> BackupArchive.Metadata {
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw VaultError.conflict("\(url.path) exists; choose a new file name")
        }
        try await database.transaction { db in
            try self.record(db, caller, "backup", "file:\(url.lastPathComponent)")
            try self.checkpoint(db, force: true)
        }
        let log = checkpointFile.contents() ?? []
        let snapshot = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(ID.v4()).tmp")
        defer { try? FileManager.default.removeItem(at: snapshot) }
        try await database.writer.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM INTO ?", arguments: [snapshot.path])
        }
        let snapshotDB = try DatabaseQueue(path: snapshot.path)
        let lastSeq =
            try await snapshotDB.read { db in try AuditLog.headSeq(db) }
        try snapshotDB.close()
        let meta = BackupArchive.Metadata(vaultID: keys.vaultID.description, createdAt: now(), lastSeq: lastSeq)
        try BackupArchive.write(to: url, metadata: meta, database: snapshot, checkpoints: log)
        return meta
    }

    /// Restores a backup into an empty `directory` with a copy of keys/: the log must verify against the checkpoint
    /// file (default: the backup's own; a newer file's notes past the backup are allowed, and its purge notes are
    /// re-applied); then a signed restore marker anchors the restored head, so a restore and a rewrite differ.
    /// - Throws: `.conflict` for a non-empty target, `AuditVerificationFailure` when the log does not verify.
    public static func restore(
        from backup: URL, keys keysDirectory: URL, to directory: URL, checkpoints: URL?, caller: Caller,
        clock: VaultClock = .system
    ) async throws -> RestoreSummary {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.path) {
            guard (try? fm.contentsOfDirectory(atPath: directory.path))?.isEmpty == true else {
                throw VaultError.conflict("\(directory.path) is not empty; restore into a new directory")
            }
        }
        try VaultKeys.checkPermissions(keysDirectory)
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var completed = false
        defer { if !completed { try? fm.removeItem(at: directory) } }
        let (meta, ownLog) = try BackupArchive.read(
            from: backup, database: URL(fileURLWithPath: databasePath(directory)))
        let keysTarget = Vault.keysDirectory(directory)
        try fm.createDirectory(
            at: keysTarget, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        for name in VaultKeys.files {
            let src = keysDirectory.appendingPathComponent(name)
            let dst = keysTarget.appendingPathComponent(name)
            try fm.copyItem(at: src, to: dst)
            try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dst.path)
        }
        let logBytes =
            try checkpoints.map { url -> [UInt8] in
                guard let d = fm.contents(atPath: url.path) else {
                    throw VaultError.notFound("cannot read \(url.path)")
                }
                return Array(d)
            } ?? ownLog
        guard
            fm.createFile(
                atPath: CheckpointFile(directory: directory).url.path, contents: Data(logBytes),
                attributes: [.posixPermissions: 0o600])
        else { throw VaultError(.storageUnavailable, "cannot write the checkpoint log") }
        let vault = try Vault.open(at: directory, clock: clock)
        guard vault.keys.vaultID.description == meta.vaultID else {
            throw VaultError.integrity("the keys belong to another vault than this backup")
        }
        let (summary, purges) = try await vault.verifyAuditLog(
            verifiers: nil, checkpointFile: nil, allowNotesBeyondEnd: checkpoints != nil)
        var reapplied: [ID] = []
        try await vault.database.transaction { db in
            // The marker anchors the restored head; notes past it in the file belong to the replaced timeline.
            try vault.checkpoint(db, kind: .restore, force: true)
            try vault.record(db, caller, "restore", "backup:\(backup.lastPathComponent) seq:\(summary.entries)")
        }
        for note in purges {
            let ids = note.purgedCases.compactMap { ID(String($0.dropFirst("case:".count))) }
            reapplied += try await vault.purgeCases(ids, caller: caller)
        }
        _ = try await vault.checkpoint(force: true)
        completed = true
        return RestoreSummary(entries: summary.entries, reappliedPurges: reapplied)
    }
}
