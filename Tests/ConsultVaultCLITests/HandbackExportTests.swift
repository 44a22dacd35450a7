import Foundation
import Testing
import VaultCore
import VaultCrypto
import VaultTestSupport

@testable import consultvault

/// `consultvault handback --desk D --share FILE… --to age1… --out FILE` with share files as `recovery-key new` writes
/// them, opened with Debian's `age` and checked by `handback --check`.
@Suite struct HandbackExportTests {
    /// Three share files (any two recover) of the fixture's recovery key, in `dir`.
    static func shares(_ f: Fixture, in dir: URL) throws -> [String] {
        try Shamir.split(f.recovery.secretKey, shares: 3, threshold: 2).map { share in
            let url = dir.appendingPathComponent("share-\(share.x).txt")
            try Data(share.encodeFile(publicKey: f.recovery.publicKey).utf8).write(to: url)
            return url.path
        }
    }

    static func command(_ f: Fixture, shares: [String], to recipient: String, out: URL, desk: String = "ijime")
        throws -> HandbackCommand
    {
        try HandbackCommand.parse(
            ["--data", f.directory.path, "--desk", desk, "--to", recipient, "--out", out.path]
                + shares.flatMap { ["--share", $0] })
    }

    static func expectRefused(_ command: HandbackCommand, _ text: String, nothingIn dir: URL, besides: Set<String>)
        async throws
    {
        await #expect {
            _ = try await command.export()
        } throws: { error in
            let message = (error as? VaultError)?.message ?? "\(error)"
            #expect(message.contains(text), "\(message)")
            return message.contains(text)
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == besides)
    }

    @Test("K shares: a hand-back that Debian's age opens, whose manifest, hashes, signature and log verify")
    func export() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let first = try await f.vault.ingest(f.text("CANARY-handback 相談"), relay: f.relay, requestID: "a")
        _ = try await f.vault.ingest(f.text("second case", user: "U-other"), relay: f.relay, requestID: "b")
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shareFiles = try Self.shares(f, in: dir)
        let key = dir.appendingPathComponent("key.txt").path
        #expect(try AgeTool.run("age-keygen", ["-o", key]).status == 0)
        let recipient = try AgeTool.run("age-keygen", ["-y", key]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let out = dir.appendingPathComponent("ijime.age")
        let summary = try await Self.command(f, shares: Array(shareFiles[1...]), to: recipient, out: out).export()
        #expect(summary.cases == 2 && summary.messages == 2)

        // Debian's age decrypts it; the ZIP's manifest lists every entry with its hash and the signature holds.
        let zip = dir.appendingPathComponent("ijime.zip")
        let decrypted = try AgeTool.run("age", ["-d", "-i", key, "-o", zip.path, out.path])
        #expect(decrypted.status == 0, "\(decrypted.err)")
        let entries = try PackageCheck.entries(try Data(contentsOf: zip))
        #expect(try PackageCheck.verify(entries, signingKeys: [f.vault.keys.signing.publicKey]) == 12)
        #expect(entries["access-log.jsonl"] != nil && entries["vault-signing.pub"] != nil)
        let transcript = String(decoding: entries["cases/\(first.caseID)/transcript.json"] ?? [], as: UTF8.self)
        #expect(transcript.contains("CANARY-handback 相談") && transcript.contains(first.messageID.description))
        // Info-ZIP reads the archive too (stored entries, CRC-32 of each checked).
        #expect(try AgeTool.run("unzip", ["-tq", zip.path]).status == 0)

        // handback --check: files, signature and the log's chain with the vault's key given explicitly.
        let pub = Vault.keysDirectory(f.directory).appendingPathComponent("vault-signing.pub").path
        let check = try HandbackCommand.parse(["--check", out.path, "--identity", key, "--public-key", pub])
        let (files, log) = try check.verifyPackage()
        #expect(files == 12 && (log?.entries ?? 0) > 0)
        // Signed by another key: refused.
        let otherPub = dir.appendingPathComponent("other.pub")
        let other = try SigningKeyPair.generate()
        try Data((NoteVerifier(name: "other", publicKey: other.publicKey).line + "\n").utf8).write(to: otherPub)
        let wrong = try HandbackCommand.parse(["--check", out.path, "--identity", key, "--public-key", otherPub.path])
        #expect { try wrong.verifyPackage() } throws: { ($0 as? VaultError)?.message.contains("manifest.sig") == true }

        let entry = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
            .last { $0.action == "handback" }
        #expect(entry?.outcome == .allowed && entry?.target == "desk:ijime cases:2")
    }

    @Test(
        "K−1 shares, bad share files, a wrong desk, a bad recipient or an existing file: a clear refusal, nothing written"
    )
    func refusals() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await f.vault.ingest(f.text("CANARY-refused"), relay: f.relay, requestID: "a")
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shareFiles = try Self.shares(f, in: dir)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let recipient = try AgeIdentity.generate().recipient.description
        let out = dir.appendingPathComponent("out.age")
        let entriesBefore = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000).count }

        try await Self.expectRefused(
            try Self.command(f, shares: [shareFiles[0]], to: recipient, out: out),
            "2 of the 3 recovery shares are needed, 1 given", nothingIn: dir, besides: before)
        let damaged = dir.appendingPathComponent("damaged.txt")
        try Data("not a share\n".utf8).write(to: damaged)
        try await Self.expectRefused(
            try Self.command(f, shares: [shareFiles[0], damaged.path], to: recipient, out: out),
            "is damaged or not a share", nothingIn: dir, besides: before.union(["damaged.txt"]))
        try await Self.expectRefused(
            try Self.command(f, shares: shareFiles, to: "age1notakey", out: out), "--to must be an age X25519",
            nothingIn: dir, besides: before.union(["damaged.txt"]))
        try await Self.expectRefused(
            try Self.command(f, shares: shareFiles, to: recipient, out: out, desk: "nosuch"), "no desk nosuch",
            nothingIn: dir, besides: before.union(["damaged.txt"]))
        // None of those reached the vault's log: they are refused before anything is opened.
        #expect(try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000).count } == entriesBefore)

        // K shares of another recovery key: the vault refuses and records the denial.
        let otherDir = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: otherDir, withIntermediateDirectories: true)
        let otherKey = try BoxKeyPair.generate()
        let otherShares = try Shamir.split(otherKey.secretKey, shares: 2, threshold: 2).map { share in
            let url = otherDir.appendingPathComponent("s\(share.x).txt")
            try Data(share.encodeFile(publicKey: otherKey.publicKey).utf8).write(to: url)
            return url.path
        }
        try await Self.expectRefused(
            try Self.command(f, shares: otherShares, to: recipient, out: out),
            "do not recombine to the recovery key of ijime", nothingIn: dir,
            besides: before.union(["damaged.txt", "other"]))
        let last = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }.last
        #expect(last?.action == "handback" && last?.outcome == .denied)

        try Data("mine".utf8).write(to: out)
        try await Self.expectRefused(
            try Self.command(f, shares: shareFiles, to: recipient, out: out), "exists", nothingIn: dir,
            besides: before.union(["damaged.txt", "other", "out.age"]))
        #expect(try Data(contentsOf: out) == Data("mine".utf8))
        #expect(throws: (any Error).self) { try HandbackCommand.parse(["--desk", "ijime", "--out", out.path]) }
    }
}
