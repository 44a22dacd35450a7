import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

/// `consultvault handback --check FILE --identity KEYFILE`: opens a package (a hand-back or a disclosure package)
/// with an age identity and verifies its manifest, signature and hashes (schema/FORMAT.md §21). The export form
/// (`--desk D --share FILE… --to age1… --out FILE`) is not built yet.
struct HandbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handback",
        abstract: "Verify a hand-back or disclosure package: --check FILE --identity KEYFILE.",
        discussion: """
            Decrypts FILE (an age file) with the identities in KEYFILE (as age-keygen writes it), then checks that
            manifest.json lists every other entry with its size and SHA-256 and that manifest.sig verifies. The
            vault's verifier key comes from --public-key FILE, else the package's own vault-signing.pub (a
            hand-back), else --data DIR's keys/vault-signing.pub. Exit 1 naming what failed.
            The export form (--desk D --share FILE… --to age1… --out FILE) is not available in this build.
            """)

    @Option(help: "The package to verify (an age file).") var check: String?
    @Option(help: "An age identity file (AGE-SECRET-KEY-1… lines).") var identity: String?
    @Option(help: "Verifier key file (C2SP key lines, as keys/vault-signing.pub).") var publicKey: String?
    @Option(help: "The vault directory, for its verifier key (env CONSULTVAULT_DATA).") var data: String?
    @Option(help: "Export: the desk (not available in this build).") var desk: String?

    func validate() throws {
        if desk != nil {
            throw ValidationError(
                "the hand-back export (--desk … --share … --to … --out …) is not available in this build")
        }
        guard check != nil, identity != nil else { throw ValidationError("give --check FILE and --identity KEYFILE") }
    }

    func run() async throws {
        do {
            let count = try verify()
            print("OK: \(count) files, manifest signature and every SHA-256 verified")
        } catch let e as VaultError {
            print("FAILED: \(e.message)")
            throw ExitCode.failure
        } catch let e as AgeError {
            print("FAILED: the package does not decrypt (\(e))")
            throw ExitCode.failure
        } catch let e as CryptoError {
            print("FAILED: \(e)")
            throw ExitCode.failure
        }
    }

    func verify() throws -> Int {
        guard let keyText = try? String(contentsOfFile: identity!, encoding: .utf8) else {
            throw VaultError(.notFound, "cannot read --identity \(identity!)")
        }
        let identities = try AgeIdentity.parseFile(keyText)
        guard let handle = FileHandle(forReadingAtPath: check!) else {
            throw VaultError(.notFound, "cannot read --check \(check!)")
        }
        defer { try? handle.close() }
        let decryptor = try AgeDecryptor(identities: identities) { n in
            [UInt8](try handle.read(upToCount: n) ?? Data())
        }
        var zip = Data()
        while let chunk = try decryptor.next() { zip.append(contentsOf: chunk) }
        let entries = try PackageCheck.entries(zip)
        let keyLines: String
        if let publicKey {
            guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8) else {
                throw VaultError(.notFound, "cannot read --public-key \(publicKey)")
            }
            keyLines = text
        } else if let inside = entries["vault-signing.pub"] {
            keyLines = String(decoding: inside, as: UTF8.self)
        } else {
            let dir = URL(
                fileURLWithPath: data ?? ProcessInfo.processInfo.environment["CONSULTVAULT_DATA"] ?? "vault-data")
            let path = Vault.keysDirectory(dir).appendingPathComponent("vault-signing.pub").path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw VaultError(
                    .notFound,
                    "no verifier key: give --public-key FILE or --data DIR (the package has no vault-signing.pub)")
            }
            keyLines = text
        }
        let keys = try NoteVerifier.parseFile(keyLines).map(\.publicKey)
        return try PackageCheck.verify(entries, signingKeys: keys)
    }
}
