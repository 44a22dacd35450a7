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
    private var hashes: [UInt8] = []
    private var previous = AuditLog.genesis
    private var next: Int64 = 1
    private var fileNotes: [Note] = []
    private var exportNotes: [Note] = []
    private var seen = Set<String>()
    private var keysUsed = Set<String>()
    private var fields: [FlatJSON.Field] = []
    private var canon: [UInt8] = []
    private var exportLine = 0

    public init(verifiers: [NoteVerifier]) {
        self.verifiers = verifiers
        fields.reserveCapacity(16)
        canon.reserveCapacity(1024)
    }

    /// Reads the notes of a checkpoint file (`audit-checkpoints.log`), in file order.
    /// - Throws: `AuditVerificationFailure` for a malformed line or a note that does not verify.
    public func addCheckpointFile(_ bytes: [UInt8], name: String) throws {
        var lineNumber = 0
        try bytes.withUnsafeBufferPointer { all in
            for line in Self.lines(all) {
                lineNumber += 1
                if line.isEmpty { continue }
                if let n = try note(line, source: "\(name) line \(lineNumber)") { fileNotes.append(n) }
            }
        }
    }

    /// Feeds a whole export (JSON Lines), calling `progress` with the fraction done now and then.
    /// - Throws: `AuditVerificationFailure` at the first bad line.
    public func feedExport(_ bytes: UnsafeBufferPointer<UInt8>, progress: ((Double) -> Void)? = nil) throws {
        var count = 0
        for line in Self.lines(bytes) {
            try feed(line: line)
            count += 1
            if count & 0xffff == 0, let progress, let base = bytes.baseAddress, let at = line.baseAddress {
                progress(Double(at - base) / Double(max(bytes.count, 1)))
            }
        }
    }

    /// Feeds one export line (without its newline).
    /// - Throws: `AuditVerificationFailure` naming the seq and why.
    public func feed(line: UnsafeBufferPointer<UInt8>) throws {
        exportLine += 1
        if line.isEmpty { return }
        do {
            try FlatJSON.parse(line, into: &fields)
        } catch let e as FlatJSON.Malformed {
            throw AuditVerificationFailure(seq: next, "export line \(exportLine) is not valid JSON (\(e.why))")
        }
        guard let type = fields.first(where: { FlatJSON.key($0, is: "type", in: line) }),
            let kind = FlatJSON.bytes(type.value, in: line)
        else { throw AuditVerificationFailure(seq: next, "export line \(exportLine) has no `type`") }
        if kind == Array("entry".utf8) {
            try entry(line)
        } else if let n = try note(line, source: "export line \(exportLine)") {
            exportNotes.append(n)
        }
    }

    private func entry(_ p: UnsafeBufferPointer<UInt8>) throws {
        var seq: Int64?
        var time: Int64?
        var strings = [FlatJSON.Value?](repeating: nil, count: 6)  // actor, role, action, target, outcome, request_id
        var envelope: FlatJSON.Value?
        var reason: FlatJSON.Value?
        var stored: FlatJSON.Value?
        let names: [StaticString] = ["actor", "role", "action", "target", "outcome", "request_id"]
        let expected = next
        func bad(_ why: String) -> AuditVerificationFailure { AuditVerificationFailure(seq: expected, why) }
        for f in fields {
            if FlatJSON.key(f, is: "type", in: p) { continue }
            if FlatJSON.key(f, is: "seq", in: p), case .int(let v) = f.value {
                seq = v
            } else if FlatJSON.key(f, is: "time_ms", in: p), case .int(let v) = f.value {
                time = v
            } else if FlatJSON.key(f, is: "envelope_hash", in: p) {
                envelope = f.value
            } else if FlatJSON.key(f, is: "reason_sealed", in: p) {
                reason = f.value
            } else if FlatJSON.key(f, is: "hash", in: p) {
                stored = f.value
            } else if let i = names.firstIndex(where: { FlatJSON.key(f, is: $0, in: p) }) {
                strings[i] = f.value
            } else {
                throw bad("export line \(exportLine) has an unexpected or mistyped field")
            }
        }
        guard let seq else { throw bad("export line \(exportLine) has no integer `seq`") }
        guard seq == expected else {
            throw bad(
                seq > expected
                    ? "entry missing: the next entry in the export has seq \(seq) (deleted or reordered)"
                    : "entry out of order: seq \(seq) appears after seq \(expected - 1) (reordered or duplicated)")
        }
        guard let time, time >= 0 else { throw bad("`time_ms` is missing or negative") }
        canon.removeAll(keepingCapacity: true)
        canon.append(contentsOf: Canonical.u32(8) + Canonical.u64(seq) + Canonical.u32(8) + Canonical.u64(time))
        for (i, v) in strings.enumerated() {
            guard let v, let b = FlatJSON.bytes(v, in: p) else { throw bad("`\(names[i])` is missing or not a string") }
            if i == 4, !["allowed", "denied", "error"].contains(where: { b == Array($0.utf8) }) {
                throw bad("`outcome` is not allowed, denied or error")
            }
            canon.append(contentsOf: Canonical.u32(UInt32(b.count)))
            canon.append(contentsOf: b)
        }
        let envelopeBytes: [UInt8]
        switch envelope {
        case .null: envelopeBytes = []
        case .some(let v):
            guard let s = FlatJSON.bytes(v, in: p), let h = Self.hex(s), h.count == 32 else {
                throw bad("`envelope_hash` is neither null nor 64 hex digits")
            }
            envelopeBytes = h
        case .none: throw bad("`envelope_hash` is missing")
        }
        let reasonBytes: [UInt8]
        switch reason {
        case .null: reasonBytes = []
        case .some(let v):
            guard let s = FlatJSON.bytes(v, in: p), let d = Data(base64Encoded: Data(s)) else {
                throw bad("`reason_sealed` is neither null nor base64")
            }
            reasonBytes = Array(d)
        case .none: throw bad("`reason_sealed` is missing")
        }
        canon.append(contentsOf: Canonical.u32(UInt32(envelopeBytes.count)))
        canon.append(contentsOf: envelopeBytes)
        canon.append(contentsOf: Canonical.u32(UInt32(reasonBytes.count)))
        canon.append(contentsOf: reasonBytes)
        guard let stored, let s = FlatJSON.bytes(stored, in: p), let storedHash = Self.hex(s), storedHash.count == 32
        else { throw bad("`hash` is missing or not 64 hex digits") }
        let computed = Hashing.blake2b(parts: [previous, canon])
        guard computed == storedHash else {
            throw bad("the entry does not hash to its stored hash: a field was edited, or the chain before it broken")
        }
        previous = computed
        hashes.append(contentsOf: computed)
        next += 1
    }

    /// Parses and checks the signature of a note line; nil for a note already seen.
    private func note(_ p: UnsafeBufferPointer<UInt8>, source: String) throws -> Note? {
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
        let last = next - 1
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

    static func lines(_ p: UnsafeBufferPointer<UInt8>) -> some Sequence<UnsafeBufferPointer<UInt8>> {
        var start = 0
        return AnyIterator { () -> UnsafeBufferPointer<UInt8>? in
            guard start < p.count else { return nil }
            var end = start
            while end < p.count, p[end] != 0x0a { end += 1 }
            defer { start = end + 1 }
            return UnsafeBufferPointer(rebasing: p[start..<end])
        }.lazy
    }

    static func hex(_ s: [UInt8]) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(s.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var i = 0
        while i < s.count {
            guard let hi = nibble(s[i]), let lo = nibble(s[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
