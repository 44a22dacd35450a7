import Foundation
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// FORMAT.md §6.3–6.6 against the PyNaCl-made vectors, and the independent Python verifier
/// (ops/verify-export.py) against a real export.
@Suite struct AuditFormatTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")

    static func vectors() throws -> [String: Any] {
        let url = root.appendingPathComponent("Tests/VaultCryptoTests/Vectors/format-vectors.json")
        return try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test("checkpoint note bytes, signature line and export lines equal the vectors; the vector export verifies")
    func checkpointVector() throws {
        let v = try Self.vectors()
        let cp = try #require(v["audit_checkpoint"] as? [String: Any])
        let key = try #require(v["verifier_key"] as? [String: Any])
        let seed = try SecretBytes(copying: try #require([UInt8](hex: key["seed"] as! String)))
        let signer = try SigningKeyPair(seed: seed)
        let name = "consultvault/\(key["vault_id"] as! String)"
        let entries = try #require((v["audit_chain"] as? [String: Any])?["entries"] as? [[String: Any]])
        let last = try #require(entries.last)
        let note = AuditNote(
            kind: .checkpoint, origin: name, seq: Int64(last["seq"] as! Int),
            hash: [UInt8](hex: last["hash"] as! String)!,
            time: Int64(cp["time_ms"] as! Int))
        #expect(note.text == cp["text"] as? String)
        let signed = SignedNote(text: note.text, name: name, signers: [signer])
        #expect(signed.encoded == cp["note"] as? String)
        var export: [UInt8] = []
        for x in entries {
            let eh = [UInt8](hex: x["envelope_hash"] as! String)!
            let rs = [UInt8](hex: x["reason_sealed"] as! String)!
            var e = AuditEntry(
                time: Int64(x["time_ms"] as! Int), actor: x["actor"] as! String, role: x["role"] as! String,
                action: x["action"] as! String, target: x["target"] as! String,
                outcome: .init(rawValue: x["outcome"] as! String)!, requestID: x["request_id"] as! String,
                envelopeHash: eh.isEmpty ? nil : eh, reasonSealed: rs.isEmpty ? nil : rs)
            e.seq = Int64(x["seq"] as! Int)
            e.hash = [UInt8](hex: x["hash"] as! String)!
            export += e.exportLine
        }
        export += signed.line(kind: .checkpoint)
        #expect(String(decoding: export, as: UTF8.self) == cp["export"] as? String)
        let verifier = AuditVerifier(verifiers: [try NoteVerifier(parsing: key["line"] as! String)])
        try export.withUnsafeBufferPointer { try verifier.feedExport($0) }
        let summary = try verifier.finish()
        #expect(summary.entries == 3 && summary.checkpoints == 1 && summary.unanchored == 0)
    }

    static func pythonWithNaCl() -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import nacl.signing"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    static func runScript(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", root.appendingPathComponent("ops/verify-export.py").path] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(
        "ops/verify-export.py (PyNaCl only) verifies a real export and names a tampered seq",
        .enabled(if: pythonWithNaCl(), "python3 with PyNaCl is not installed"))
    func pythonVerifier() async throws {
        var settings = VaultSettings()
        settings.checkpointEvery = 8
        let f = try await Fixture.make(settings: settings)
        defer { f.remove() }
        try await AuditTestSupport.breakGlass(f, reason: "理由")
        try await AuditTestSupport.append(f, 5)
        let lines = try await AuditTestSupport.exportLines(f.vault)
        let dir = f.directory
        let export = dir.appendingPathComponent("export.jsonl")
        let key = dir.appendingPathComponent("keys/vault-signing.pub").path
        let file = f.vault.checkpointFile.url.path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: export)
        let (ok, out) = try Self.runScript([export.path, "--public-key", key, "--checkpoints", file])
        #expect(ok == 0, "\(out)")
        #expect(out.hasPrefix("ok: \(lines.filter { $0.contains("\"entry\"") }.count) entries"))
        var tampered = lines
        var o = AuditTestSupport.json(tampered[11])
        o["action"] = "transcript.read"
        tampered[11] = AuditTestSupport.line(o)
        try Data((tampered.joined(separator: "\n") + "\n").utf8).write(to: export)
        let (bad, why) = try Self.runScript([export.path, "--public-key", key])
        #expect(bad == 1)
        #expect(why.hasPrefix("FAILED: seq 12:"), "\(why)")
    }
}
