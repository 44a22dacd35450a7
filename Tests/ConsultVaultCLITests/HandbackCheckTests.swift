import Foundation
import Testing
import VaultCore
import VaultCrypto
import VaultTestSupport

@testable import consultvault

/// `consultvault handback --check FILE --identity KEYFILE` over packages made here and keys made by age-keygen.
@Suite struct HandbackCheckTests {
    static func package(_ f: Fixture, to recipient: String, signing: SigningKeyPair, at url: URL) throws {
        let archive = try PackageArchive()
        try archive.add("cases/a/transcript.json", Array(#"{"case_id":"a","messages":[]}"#.utf8))
        try archive.add("cases/a/media/x.jpg", [0xFF, 0xD8, 0xFF, 0xE0] + SecureRandom.bytes(70_000))
        try AgeFileWriter.write(try archive.finish(signing: signing), to: try AgeRecipient(recipient), url: url)
    }

    @Test("--check verifies a signed package with the vault's key and names what fails: wrong signer, wrong identity")
    func check() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key.txt").path
        #expect(try AgeTool.run("age-keygen", ["-o", key]).status == 0)
        let recipient = try AgeTool.run("age-keygen", ["-y", key]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let good = dir.appendingPathComponent("good.age")
        try Self.package(f, to: recipient, signing: f.vault.keys.signing, at: good)
        let ok = try HandbackCommand.parse(["--check", good.path, "--identity", key, "--data", f.directory.path])
        #expect(try ok.verify() == 2)
        // Debian's age opens the same file.
        #expect(
            try AgeTool.run("age", ["-d", "-i", key, "-o", dir.appendingPathComponent("g.zip").path, good.path]).status
                == 0)

        let forged = dir.appendingPathComponent("forged.age")
        try Self.package(f, to: recipient, signing: try SigningKeyPair.generate(), at: forged)
        let bad = try HandbackCommand.parse(["--check", forged.path, "--identity", key, "--data", f.directory.path])
        #expect {
            try bad.verify()
        } throws: { ($0 as? VaultError)?.message.contains("manifest.sig") == true }

        let other = dir.appendingPathComponent("other.txt")
        try Data((try AgeIdentity.generate().encodedSecret() + "\n").utf8).write(to: other)
        let wrong = try HandbackCommand.parse([
            "--check", good.path, "--identity", other.path, "--data", f.directory.path,
        ])
        #expect { try wrong.verify() } throws: { ($0 as? AgeError)?.kind == .noMatch }
        #expect(throws: (any Error).self) { try HandbackCommand.parse(["--desk", "ijime", "--check", good.path]) }
    }
}
