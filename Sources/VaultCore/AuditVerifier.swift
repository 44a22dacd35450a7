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
    private var hashes: [UInt8] = []
    private var next: Int64 = 1
    private var fileNotes: [Note] = []
    private var exportNotes: [Note] = []
    private var seen = Set<String>()
    private var keysUsed = Set<String>()
    private var fields: [FlatJSON.Field] = []
    private var canon: [UInt8] = AuditLog.genesis
    private var slots = [FlatJSON.Value?](repeating: nil, count: 6)
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
        try Self.forEachLine(bytes) { line in
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

    private static let names: [StaticString] = ["actor", "role", "action", "target", "outcome", "request_id"]

    /// Checks one entry line; `canon` holds hash_{n-1} in its first 32 bytes, then entry_n is built after it.
    private func entry(_ p: UnsafeBufferPointer<UInt8>) throws {
        var seq: Int64?
        var time: Int64?
        var envelope: FlatJSON.Value?
        var reason: FlatJSON.Value?
        var stored: FlatJSON.Value?
        for k in 0..<6 { slots[k] = nil }
        let expected = next
        func bad(_ why: String) -> AuditVerificationFailure { AuditVerificationFailure(seq: expected, why) }
        for f in fields {
            var known = true
            switch f.key.count {
            case 3 where FlatJSON.key(f, is: "seq", in: p):
                guard case .int(let v) = f.value else {
                    known = false
                    break
                }
                seq = v
            case 4 where FlatJSON.key(f, is: "type", in: p): break
            case 4 where FlatJSON.key(f, is: "hash", in: p): stored = f.value
            case 7 where FlatJSON.key(f, is: "time_ms", in: p):
                guard case .int(let v) = f.value else {
                    known = false
                    break
                }
                time = v
            case 13 where FlatJSON.key(f, is: "envelope_hash", in: p): envelope = f.value
            case 13 where FlatJSON.key(f, is: "reason_sealed", in: p): reason = f.value
            default:
                if let i = Self.names.firstIndex(where: { FlatJSON.key(f, is: $0, in: p) }) {
                    slots[i] = f.value
                } else {
                    known = false
                }
            }
            guard known else { throw bad("export line \(exportLine) has an unexpected or mistyped field") }
        }
        guard let seq else { throw bad("export line \(exportLine) has no integer `seq`") }
        guard seq == expected else {
            throw bad(
                seq > expected
                    ? "entry missing: the next entry in the export has seq \(seq) (deleted or reordered)"
                    : "entry out of order: seq \(seq) appears after seq \(expected - 1) (reordered or duplicated)")
        }
        guard let time, time >= 0 else { throw bad("`time_ms` is missing or negative") }
        canon.removeSubrange(32...)
        Self.appendU32(8, to: &canon)
        Self.appendU64(UInt64(seq), to: &canon)
        Self.appendU32(8, to: &canon)
        Self.appendU64(UInt64(time), to: &canon)
        for i in 0..<6 {
            guard let v = slots[i], let n = FlatJSON.length(v) else {
                throw bad("`\(Self.names[i])` is missing or not a string")
            }
            Self.appendU32(UInt32(n), to: &canon)
            _ = FlatJSON.append(v, in: p, to: &canon)
            if i == 4 {
                let outcome = canon.suffix(n)
                guard ["allowed", "denied", "error"].contains(where: { $0.utf8.elementsEqual(outcome) }) else {
                    throw bad("`outcome` is not allowed, denied or error")
                }
            }
        }
        switch envelope {
        case .null: Self.appendU32(0, to: &canon)
        case .span(let r) where r.count == 64:
            Self.appendU32(32, to: &canon)
            guard Self.appendHex(UnsafeBufferPointer(rebasing: p[r]), to: &canon) else {
                throw bad("`envelope_hash` is neither null nor 64 hex digits")
            }
        case .none: throw bad("`envelope_hash` is missing")
        default: throw bad("`envelope_hash` is neither null nor 64 hex digits")
        }
        switch reason {
        case .null: Self.appendU32(0, to: &canon)
        case .some(let v):
            guard let s = FlatJSON.bytes(v, in: p), let d = Data(base64Encoded: Data(s)) else {
                throw bad("`reason_sealed` is neither null nor base64")
            }
            Self.appendU32(UInt32(d.count), to: &canon)
            canon.append(contentsOf: d)
        case .none: throw bad("`reason_sealed` is missing")
        }
        guard case .span(let h) = stored, h.count == 64 else { throw bad("`hash` is missing or not 64 hex digits") }
        let computed = Hashing.blake2b(canon)
        guard Self.hexEquals(UnsafeBufferPointer(rebasing: p[h]), computed) else {
            throw bad("the entry does not hash to its stored hash: a field was edited, or the chain before it broken")
        }
        canon.replaceSubrange(0..<32, with: computed)
        hashes.append(contentsOf: computed)
        next += 1
    }

    @inline(__always) static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always) static func appendU64(_ v: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    @inline(__always) static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        default: return nil
        }
    }

    /// Appends the bytes of lowercase hex `s`; false on a bad digit.
    static func appendHex(_ s: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        var i = 0
        while i + 1 < s.count {
            guard let hi = nibble(s[i]), let lo = nibble(s[i + 1]) else { return false }
            out.append(hi << 4 | lo)
            i += 2
        }
        return i == s.count
    }

    /// True when lowercase hex `s` spells `bytes`.
    static func hexEquals(_ s: UnsafeBufferPointer<UInt8>, _ bytes: [UInt8]) -> Bool {
        guard s.count == bytes.count * 2 else { return false }
        for (k, b) in bytes.enumerated() {
            guard nibble(s[2 * k]) == b >> 4, nibble(s[2 * k + 1]) == b & 0x0f else { return false }
        }
        return true
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
