import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct AuditCheckpointTests {
    typealias S = AuditTestSupport

    static func fileNotes(_ f: Fixture) throws -> [(type: String, note: AuditNote)] {
        let text = String(decoding: f.vault.checkpointFile.contents() ?? [], as: UTF8.self)
        return try text.split(separator: "\n").map { line in
            let o = S.json(String(line))
            return (o["type"] as! String, try AuditNote(parsing: SignedNote(parsing: o["note"] as! String).text))
        }
    }

    @Test("every N entries a checkpoint is signed, stored and appended (fsync'd) to the checkpoint file")
    func everyN() async throws {
        var settings = VaultSettings()
        settings.checkpointEvery = 7
        let f = try await Fixture.make(settings: settings)
        defer { f.remove() }
        try await S.append(f, 30)
        let notes = try Self.fileNotes(f)
        #expect(!notes.isEmpty)
        #expect(notes.allSatisfy { $0.type == "checkpoint" && $0.note.seq % 7 == 0 })
        #expect(notes.map(\.note.seq) == notes.map(\.note.seq).sorted())
        #expect(notes.first?.note.origin == "consultvault/\(f.vault.keys.vaultID)")
        let stored = try await f.vault.auditNotes()
        #expect(stored.map(\.seq) == notes.map(\.note.seq))
        let mode = try FileManager.default.attributesOfItem(atPath: f.vault.checkpointFile.url.path)[.posixPermissions]
        #expect((mode as? NSNumber)?.intValue == 0o600)
    }

    @Test("a checkpoint in a rolled-back transaction leaves no line in the file; a repeat at the same head is skipped")
    func rollback() async throws {
        var settings = VaultSettings()
        settings.checkpointEvery = 0
        let f = try await Fixture.make(settings: settings)
        defer { f.remove() }
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await f.vault.database.transaction { db in
                try f.vault.record(db, .cli(), "breakglass.start", "case:x", reason: "r")
                try f.vault.checkpoint(db)
                throw Abort()
            }
        }
        #expect(f.vault.checkpointFile.contents() == nil)
        #expect(try await f.vault.checkpoint() != nil)
        #expect(try await f.vault.checkpoint() == nil)
        #expect(try Self.fileNotes(f).count == 1)
    }

    @Test("a checkpoint by a batched write that is rolled back alone leaves no line; the batch's others keep theirs")
    func rolledBackInBatch() async throws {
        var settings = VaultSettings()
        settings.checkpointEvery = 1  // every entry, so every failed write has taken a checkpoint when it throws
        let f = try await Fixture.make(settings: settings)
        defer { f.remove() }
        struct Boom: Error {}
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    _ = try? await f.vault.database.batched { db in
                        try f.vault.record(db, .cli(), "test.write", "t\(i)")
                        if i % 3 == 0 { throw Boom() }
                    }
                }
            }
        }
        let file = try Self.fileNotes(f)
        let stored = try await f.vault.auditNotes()
        #expect(!file.isEmpty)
        #expect(file.map(\.note.seq) == stored.map(\.seq))
        // Every line in the file anchors the chain as stored: no note names a seq whose entry was rolled back.
        let hashes = try await f.vault.database.read { db in
            try file.map { n in
                try Data.fetchOne(db, sql: "SELECT hash FROM access_log WHERE seq = ?", arguments: [n.note.seq])
                    .map { Array($0) }
            }
        }
        #expect(hashes == file.map { Optional($0.note.hash) })
    }

    @Test("a rotation checkpoint carries two signatures; either key alone verifies it; a bad known signature fails")
    func rotation() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let newKey = try SigningKeyPair.generate()
        _ = try await f.vault.database.transaction { db in
            try f.vault.checkpoint(db, force: true, signers: [f.vault.keys.signing, newKey])
        }
        try await S.append(f, 3)
        _ = try await f.vault.database.transaction { db in try f.vault.checkpoint(db, signers: [newKey]) }
        let lines = try await S.exportLines(f.vault)
        let oldV = S.verifiers(f.vault)[0]
        let newV = NoteVerifier(name: f.vault.keys.noteName, publicKey: newKey.publicKey)
        let both = try S.verify(lines, verifiers: [oldV, newV]).get()
        #expect(both.keys.count == 2)
        #expect(both.unanchored == 0)
        // With only the old key the last checkpoint (new key only) is from an unknown key.
        if case .success = S.verify(lines, verifiers: [oldV]) {
            Issue.record("a new-key checkpoint passed the old key")
        }
        // A signature line by a known key that does not verify is refused even next to a good one.
        let i = try #require(lines.firstIndex { $0.contains("\"checkpoint\"") })
        let note = try SignedNote(parsing: S.json(lines[i])["note"] as! String)
        let parsed = try NoteVerifier(parsing: newV.line)
        #expect(parsed == newV)
        var bad = note.encoded
        let sigs = note.signatures
        #expect(sigs.count == 2)
        bad =
            note.text + "\n" + "— \(sigs[0].name) " + Data(sigs[1].keyHash + sigs[0].signature).base64EncodedString()
            + "\n— \(sigs[0].name) " + Data(sigs[0].keyHash + sigs[0].signature).base64EncodedString() + "\n"
        var mutated = lines
        mutated[i] = S.line(["type": "checkpoint", "note": bad])
        guard case .failure(let e) = S.verify(mutated, verifiers: [oldV, newV]) else {
            Issue.record("a bad signature by a known key passed")
            return
        }
        #expect(e.reason.contains("does not verify"))
    }

    @Test("restore markers and purge notes verify; checkpoints of the abandoned history are reported as superseded")
    func restoreAndPurge() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.checkpoint(force: true)
        let restoredHead = try await S.exportLines(f.vault).filter { $0.contains("\"entry\"") }.count
        try await S.append(f, 4)
        try await f.vault.checkpoint()
        let abandoned = try #require(f.vault.checkpointFile.contents())
        // Simulate a restore to `restoredHead`: a fresh copy of the log up to there, then the signed marker.
        let all = try await S.exportLines(f.vault).filter { $0.contains("\"entry\"") }
        let restoredLines = Array(all.prefix(restoredHead))
        let marker = SignedNote(
            text: AuditNote(
                kind: .restore, origin: f.vault.keys.noteName, seq: Int64(restoredHead),
                hash: [UInt8](hex: S.json(restoredLines.last!)["hash"] as! String)!, time: 1
            ).text, name: f.vault.keys.noteName, signers: [f.vault.keys.signing])
        let purge = SignedNote(
            text: AuditNote(
                kind: .purge, origin: f.vault.keys.noteName, seq: Int64(restoredHead),
                hash: [UInt8](hex: S.json(restoredLines.last!)["hash"] as! String)!, time: 2,
                purgedCases: ["case:\(ID.v4())", "case:\(ID.v4())"]
            ).text, name: f.vault.keys.noteName, signers: [f.vault.keys.signing])
        let file = abandoned + marker.line(kind: .restore) + purge.line(kind: .purge)
        let summary = try S.verify(restoredLines, checkpointFile: file, verifiers: S.verifiers(f.vault)).get()
        #expect(summary.restores == 1)
        #expect(summary.purges == 1)
        #expect(summary.purgedCases == 2)
        #expect(summary.superseded == 1)
        #expect(summary.line.contains("superseded by a restore"))
        // Without the marker the same file proves truncation.
        guard case .failure(let e) = S.verify(restoredLines, checkpointFile: abandoned, verifiers: S.verifiers(f.vault))
        else {
            Issue.record("truncation passed")
            return
        }
        #expect(e.reason.contains("truncated"))
        // A note whose JSON type disagrees with its text is refused.
        let lying = Array(marker.line(kind: .checkpoint))
        #expect(throws: AuditVerificationFailure.self) {
            try AuditVerifier(verifiers: S.verifiers(f.vault)).addCheckpointFile(lying, name: "x")
        }
    }

    @Test("note and verifier-key formats round-trip and refuse malformed input")
    func formats() throws {
        let key = try SigningKeyPair.generate()
        let v = NoteVerifier(name: "consultvault/x", publicKey: key.publicKey)
        #expect(try NoteVerifier(parsing: v.line) == v)
        #expect(throws: VaultError.self) {
            try NoteVerifier(parsing: "consultvault/x+00000000+" + v.line.split(separator: "+", maxSplits: 2)[2])
        }
        let note = AuditNote(
            kind: .checkpoint, origin: "consultvault/x", seq: 5, hash: [UInt8](repeating: 7, count: 32), time: 9)
        #expect(try AuditNote(parsing: note.text) == note)
        let signed = SignedNote(text: note.text, name: v.name, signers: [key])
        #expect(try SignedNote(parsing: signed.encoded) == signed)
        #expect(try signed.verify(with: [v]) == [v])
        for bad in ["", "a\n", note.text + "bogus\n", note.text.replacingOccurrences(of: "\n5\n", with: "\n05\n")] {
            #expect(throws: VaultError.self) { try AuditNote(parsing: bad) }
        }
        #expect(throws: VaultError.self) { try SignedNote(parsing: note.text) }
    }
}
