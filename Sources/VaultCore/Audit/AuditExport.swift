import Foundation
import GRDB

extension Vault {
    /// Streams the export (FORMAT.md §6.6): every entry up to the head at the start, then every stored note
    /// anchoring at most that head, as JSON Lines in chunks of whole lines.
    /// - Returns: the number of entries written.
    /// - Throws: whatever `sink` throws; `.storageUnavailable` when the database cannot be read.
    @discardableResult
    public func writeAuditExport(pageSize: Int = 20_000, to sink: ([UInt8]) async throws -> Void) async throws -> Int64
    {
        let head = try await database.read { db in try AuditLog.headSeq(db) }
        var after: Int64 = 0
        while after < head {
            let from = after
            let page = try await database.read { db in
                try AuditLog.entries(in: db, after: from, limit: pageSize).filter { $0.seq <= head }
            }
            guard let last = page.last else { break }
            var chunk: [UInt8] = []
            chunk.reserveCapacity(page.count * 400)
            for e in page { chunk.append(contentsOf: e.exportLine) }
            try await sink(chunk)
            after = last.seq
        }
        var chunk: [UInt8] = []
        for n in try await auditNotes(upTo: head) {
            chunk.append(contentsOf: try SignedNote(parsing: n.note).line(kind: n.kind))
        }
        if !chunk.isEmpty { try await sink(chunk) }
        return after
    }

    /// Verifies the live log (`audit verify --data`): the database's entries and notes and the checkpoint file,
    /// against `verifiers` (default: this vault's key).
    /// - Throws: `AuditVerificationFailure` naming the first bad seq.
    public func verifyAuditLog(
        verifiers: [NoteVerifier]? = nil, checkpointFile file: CheckpointFile? = nil
    ) async throws -> AuditVerificationSummary {
        try await verifyAuditLog(verifiers: verifiers, checkpointFile: file, allowNotesBeyondEnd: false).summary
    }

    /// As `verifyAuditLog`, optionally skipping notes past the end of the log (a restore checked against a newer
    /// checkpoint file); returns the purge notes so skipped, for the restore to re-apply.
    public func verifyAuditLog(
        verifiers: [NoteVerifier]?, checkpointFile file: CheckpointFile?, allowNotesBeyondEnd: Bool
    ) async throws -> (summary: AuditVerificationSummary, purgesBeyondEnd: [AuditNote]) {
        let verifier = AuditVerifier(
            verifiers: verifiers ?? keys.allSigningKeys.map { NoteVerifier(name: keys.noteName, publicKey: $0) })
        verifier.allowNotesBeyondEnd = allowNotesBeyondEnd
        let f = file ?? checkpointFile
        if let bytes = f.contents() { try verifier.addCheckpointFile(bytes, name: f.url.lastPathComponent) }
        try await writeAuditExport { chunk in
            try chunk.withUnsafeBufferPointer { try verifier.feedExport($0) }
        }
        let summary = try verifier.finish()
        return (summary, verifier.purgesBeyondEnd)
    }
}
