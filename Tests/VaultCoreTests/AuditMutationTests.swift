import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Tampering with an export or the live log is detected and named: every field of every entry, a deleted
/// entry, two reordered entries, a truncated tail (against the checkpoint file), a foreign-key checkpoint.
@Suite struct AuditMutationTests {
    typealias S = AuditTestSupport

    /// A fixture with a break-glass (sealed reason), checkpoints, and entries after the last checkpoint.
    static func populated() async throws -> Fixture {
        var settings = VaultSettings()
        settings.checkpointEvery = 10
        let f = try await Fixture.make(settings: settings)
        try await S.append(f, 7)
        try await S.breakGlass(f, reason: "本人の安全確認のため")
        try await S.append(f, 5, action: "content.read")
        try await f.vault.checkpoint(force: true)
        try await S.append(f, 2)
        return f
    }

    static func failure(_ r: Result<AuditVerificationSummary, AuditVerificationFailure>) -> AuditVerificationFailure? {
        if case .failure(let e) = r { return e }
        return nil
    }

    @Test("an untouched log verifies, from the export and live, with the checkpoint file")
    func untouched() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        let lines = try await S.exportLines(f.vault)
        let file = try #require(f.vault.checkpointFile.contents())
        let r = S.verify(lines, checkpointFile: file, verifiers: S.verifiers(f.vault))
        let summary = try r.get()
        let entries = lines.filter { $0.hasPrefix("{\"type\":\"entry\"") }.count
        #expect(summary.entries == Int64(entries))
        #expect(summary.checkpoints >= 3)
        #expect(summary.unanchored == 2)
        #expect(summary.line.hasPrefix("ok: \(entries) entries"))
        let live = try await f.vault.verifyAuditLog()
        #expect(live.entries == Int64(entries))
    }

    @Test("editing any field of any entry makes verify fail at that entry's seq")
    func editEveryField() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        let lines = try await S.exportLines(f.vault)
        let keys = S.verifiers(f.vault)
        let fields = [
            "seq", "time_ms", "actor", "role", "action", "target", "outcome", "request_id", "envelope_hash",
            "reason_sealed", "hash",
        ]
        var checked = 0
        for (i, line) in lines.enumerated() where line.hasPrefix("{\"type\":\"entry\"") {
            let original = S.json(line)
            let seq = try #require(original["seq"] as? Int)
            for field in fields {
                var o = original
                switch o[field] {
                case let n as Int: o[field] = n + 1
                case let s as String where field == "hash" || field == "envelope_hash":
                    o[field] = (s.first == "0" ? "1" : "0") + s.dropFirst()
                case let s as String where field == "reason_sealed": o[field] = "AAAA" + s
                case let s as String where field == "outcome": o[field] = s == "allowed" ? "denied" : "allowed"
                case let s as String: o[field] = s + "x"
                default: o[field] = field == "envelope_hash" ? String(repeating: "ab", count: 32) : "AAAA"
                }
                var mutated = lines
                mutated[i] = S.line(o)
                let failure = try #require(Self.failure(S.verify(mutated, verifiers: keys)), "\(field) of seq \(seq)")
                #expect(failure.seq == Int64(seq), "\(field) of seq \(seq): \(failure)")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    @Test("deleting an entry is named at its seq")
    func deleteEntry() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        var lines = try await S.exportLines(f.vault)
        lines.remove(at: 4)
        let failure = try #require(Self.failure(S.verify(lines, verifiers: S.verifiers(f.vault))))
        #expect(failure.seq == 5)
        #expect(failure.reason.contains("missing"))
    }

    @Test("reordering two entries is named at the first displaced seq")
    func reorder() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        var lines = try await S.exportLines(f.vault)
        lines.swapAt(6, 11)
        let failure = try #require(Self.failure(S.verify(lines, verifiers: S.verifiers(f.vault))))
        #expect(failure.seq == 7)
    }

    @Test("a truncated tail passes alone but fails against the checkpoint file, naming the first missing seq")
    func truncatedTail() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        let lines = try await S.exportLines(f.vault)
        let entries = lines.filter { $0.hasPrefix("{\"type\":\"entry\"") }
        // A database writer removes the last 5 entries and the notes that anchor them.
        let kept = Array(entries.dropLast(5))
        let file = try #require(f.vault.checkpointFile.contents())
        _ = try S.verify(kept, verifiers: S.verifiers(f.vault)).get()
        let failure = try #require(Self.failure(S.verify(kept, checkpointFile: file, verifiers: S.verifiers(f.vault))))
        #expect(failure.seq == Int64(kept.count + 1))
        #expect(failure.reason.contains("truncated"))
    }

    @Test("a checkpoint signed by another key fails, naming its seq")
    func foreignCheckpoint() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        var lines = try await S.exportLines(f.vault)
        let i = try #require(lines.lastIndex { $0.hasPrefix("{\"type\":\"checkpoint\"") })
        let original = try SignedNote(parsing: S.json(lines[i])["note"] as! String)
        let forged = SignedNote(text: original.text, name: f.vault.keys.noteName, signers: [try .generate()])
        lines[i] = String(decoding: forged.line(kind: .checkpoint).dropLast(), as: UTF8.self)
        let failure = try #require(Self.failure(S.verify(lines, verifiers: S.verifiers(f.vault))))
        let note = try AuditNote(parsing: original.text)
        #expect(failure.seq == note.seq)
        #expect(failure.reason.contains("unknown key"))
    }

    @Test("an edited entry with the chain recomputed after it is caught by the checkpoint over it")
    func rewrittenChain() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        var lines = try await S.exportLines(f.vault)
        var previous = AuditLog.genesis
        for (i, line) in lines.enumerated() where line.hasPrefix("{\"type\":\"entry\"") {
            var o = S.json(line)
            if o["seq"] as? Int == 3 { o["actor"] = "someone-else" }
            var e = AuditEntry(
                time: Int64(o["time_ms"] as! Int), actor: o["actor"] as! String, role: o["role"] as! String,
                action: o["action"] as! String, target: o["target"] as! String,
                outcome: .init(rawValue: o["outcome"] as! String)!, requestID: o["request_id"] as! String,
                envelopeHash: (o["envelope_hash"] as? String).flatMap { [UInt8](hex: $0) },
                reasonSealed: (o["reason_sealed"] as? String).flatMap { Data(base64Encoded: $0) }.map { Array($0) })
            e.seq = Int64(o["seq"] as! Int)
            e.hash = e.chainHash(previous: previous)
            previous = e.hash
            o["hash"] = e.hash.hex
            lines[i] = S.line(o)
        }
        let failure = try #require(Self.failure(S.verify(lines, verifiers: S.verifiers(f.vault))))
        #expect(failure.seq == 10)  // the first checkpoint (every 10 entries) covers seq 3
        #expect(failure.reason.contains("1…10"))
    }

    @Test("the live verify names a row edited in the database behind the triggers' back")
    func liveEdit() async throws {
        let f = try await Self.populated()
        defer { f.remove() }
        try await f.vault.database.transaction { db in
            try db.execute(sql: "DROP TRIGGER access_log_append_only_update")
            try db.execute(sql: "UPDATE access_log SET target = 'case:elsewhere' WHERE seq = 6")
        }
        await #expect(throws: AuditVerificationFailure.self) { try await f.vault.verifyAuditLog() }
        do {
            _ = try await f.vault.verifyAuditLog()
        } catch let e as AuditVerificationFailure {
            #expect(e.seq == 6)
        }
    }
}
