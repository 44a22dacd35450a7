import Foundation
import VaultCrypto

/// Verifies an access log offline (FORMAT.md §6): recomputes the chain from hash_0, checks every signed note
/// against the verifier keys and against the recomputed hash at its seq, and detects a truncated tail against
/// the checkpoint file. Feed the checkpoint file first (if any), then the export, then call `finish`.
public final class AuditVerifier {
    struct Note {
        let note: AuditNote
        let encoded: String
        let source: String
    }

    private let verifiers: [NoteVerifier]
    /// For a restore from an older backup checked against a newer checkpoint file: notes anchoring seqs past the
    /// end of the log are skipped (counted in `summary.beyondEnd`) instead of failing as a truncated tail.
    public var allowNotesBeyondEnd = false
    /// Purge notes past the end of the log (with `allowNotesBeyondEnd`): the purges a restore re-applies.
    public private(set) var purgesBeyondEnd: [AuditNote] = []
    private var chain = ChainChecker()
    private var fileNotes: [Note] = []
    private var exportNotes: [Note] = []
    private var seen = Set<String>()
    private var keysUsed = Set<String>()
    public init(verifiers: [NoteVerifier]) {
        self.verifiers = verifiers
    }

    /// Reads the notes of a checkpoint file (`audit-checkpoints.log`), in file order.
    /// - Throws: `AuditVerificationFailure` for a malformed line or a note that does not verify.
    public func addCheckpointFile(_ bytes: [UInt8], name: String) throws {
        var lineNumber = 0
        try bytes.withUnsafeBufferPointer { all in
            try Self.forEachLine(all) { line in
                lineNumber += 1
                if line.isEmpty { return }
                if let n = try note(line, source: "\(name) line \(lineNumber)") { fileNotes.append(n) }
            }
        }
    }

    /// Feeds a whole export (JSON Lines), calling `progress` with the fraction done now and then.
    /// - Throws: `AuditVerificationFailure` at the first bad line.
    public func feedExport(_ bytes: UnsafeBufferPointer<UInt8>, progress: ((Double) -> Void)? = nil) throws {
        var count = 0
        var chain = self.chain  // a local copy: no exclusivity checks on the hot path
        defer { self.chain = chain }
        try Self.forEachLine(bytes) { line in
            if try !chain.feed(line), let n = try note(line, source: "export line \(chain.exportLine)") {
                exportNotes.append(n)
            }
            count += 1
            if count & 0xffff == 0, let progress, let base = bytes.baseAddress, let at = line.baseAddress {
                progress(Double(at - base) / Double(max(bytes.count, 1)))
            }
        }
    }

    /// Feeds one export line (without its newline).
    /// - Throws: `AuditVerificationFailure` naming the seq and why.
    public func feed(line: UnsafeBufferPointer<UInt8>) throws {
        if try !chain.feed(line), let n = try note(line, source: "export line \(chain.exportLine)") {
            exportNotes.append(n)
        }
    }

    /// Parses and checks the signature of a note line; nil for a note already seen.
    private func note(_ p: UnsafeBufferPointer<UInt8>, source: String) throws -> Note? {
        var fields: [FlatJSON.Field] = []
        do {
            try FlatJSON.parse(p, into: &fields)
        } catch let e as FlatJSON.Malformed {
            throw AuditVerificationFailure(seq: nil, "\(source) is not valid JSON (\(e.why))")
        }
        var type: [UInt8]?
        var text: [UInt8]?
        for f in fields {
            if FlatJSON.key(f, is: "type", in: p) {
                type = FlatJSON.bytes(f.value, in: p)
            } else if FlatJSON.key(f, is: "note", in: p) {
                text = FlatJSON.bytes(f.value, in: p)
            } else {
                throw AuditVerificationFailure(seq: nil, "\(source) has an unexpected field")
            }
        }
        guard let type, let kind = AuditNote.Kind(rawValue: String(decoding: type, as: UTF8.self)) else {
            throw AuditVerificationFailure(seq: nil, "\(source) has an unknown `type`")
        }
        guard let text else { throw AuditVerificationFailure(seq: nil, "\(source) has no `note`") }
        let encoded = String(decoding: text, as: UTF8.self)
        if seen.contains(encoded) { return nil }
        let signed: SignedNote
        let parsed: AuditNote
        do {
            signed = try SignedNote(parsing: encoded)
            parsed = try AuditNote(parsing: signed.text)
        } catch let e as VaultError {
            throw AuditVerificationFailure(seq: nil, "\(source): the \(kind.rawValue) note is malformed: \(e.message)")
        }
        guard parsed.kind == kind else {
            throw AuditVerificationFailure(
                seq: parsed.seq, "\(source) says \(kind.rawValue) but the note is a \(parsed.kind.rawValue)")
        }
        do {
            let good = try signed.verify(with: verifiers)
            guard good.contains(where: { $0.name == parsed.origin }) else {
                throw VaultError.integrity("its origin \(parsed.origin) is not the name of the verifier key")
            }
            for g in good { keysUsed.insert(g.keyHash.hex) }
        } catch let e as VaultError {
            throw AuditVerificationFailure(seq: parsed.seq, "the \(kind.rawValue) in \(source) is \(e.message)")
        }
        seen.insert(encoded)
        return Note(note: parsed, encoded: encoded, source: source)
    }

    /// Checks every note against the recomputed chain and summarizes.
    /// - Throws: `AuditVerificationFailure` for a truncated tail or a note that does not match the log.
    public func finish() throws -> AuditVerificationSummary {
        let last = chain.next - 1
        let hashes = chain.hashes
        let notes = fileNotes + exportNotes
        // A note is superseded when a later restore marker (in file order) restored the log to an earlier seq.
        var superseded = [Bool](repeating: false, count: notes.count)
        var restoredTo = Int64.max
        for i in notes.indices.reversed() {
            superseded[i] = notes[i].note.seq > restoredTo
            if notes[i].note.kind == .restore { restoredTo = min(restoredTo, notes[i].note.seq) }
        }
        var summary = AuditVerificationSummary()
        summary.entries = last
        summary.keys = keysUsed.sorted()
        summary.superseded = superseded.filter { $0 }.count
        let live = notes.indices.filter { !superseded[$0] }.map { notes[$0] }.sorted { $0.note.seq < $1.note.seq }
        var anchored: Int64 = 0
        for n in live {
            let s = n.note.seq
            if s > last, allowNotesBeyondEnd {
                if n.note.kind == .purge { purgesBeyondEnd.append(n.note) }
                continue
            }
            guard s <= last else {
                throw AuditVerificationFailure(
                    seq: last + 1,
                    "the log ends at seq \(last) but the \(n.note.kind.rawValue) in \(n.source) anchors seq \(s): "
                        + "entries \(last + 1)…\(s) were removed (truncated tail)")
            }
            let h = s == 0 ? AuditLog.genesis : Array(hashes[Int(s - 1) * 32..<Int(s) * 32])
            guard h == n.note.hash else {
                throw AuditVerificationFailure(
                    seq: s,
                    "the \(n.note.kind.rawValue) in \(n.source) signs another hash than the log's hash_\(s): "
                        + "entries \(anchored + 1)…\(s) were altered and re-chained")
            }
            anchored = s
            switch n.note.kind {
            case .checkpoint: summary.checkpoints += 1
            case .restore: summary.restores += 1
            case .purge:
                summary.purges += 1
                summary.purgedCases += n.note.purgedCases.count
            }
        }
        summary.newestAnchor = anchored
        return summary
    }

    /// Calls `body` with each line of `p` (without its newline).
    static func forEachLine(_ p: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void)
        rethrows
    {
        guard let base = p.baseAddress else { return }
        var start = 0
        while start < p.count {
            let end: Int
            if let nl = memchr(base + start, 0x0a, p.count - start) {
                end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
            } else {
                end = p.count
            }
            try body(UnsafeBufferPointer(rebasing: p[start..<end]))
            start = end + 1
        }
    }
}
