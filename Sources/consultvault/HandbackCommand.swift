import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

/// `consultvault handback --desk D --share FILE… --to age1… --out FILE`: the municipality's hand-back of every case
/// of a desk (schema/FORMAT.md §21), and `handback --check FILE --identity KEYFILE`, which opens a package (a
/// hand-back or a disclosure package) with an age identity and verifies its manifest, signature and hashes.
struct HandbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handback",
        abstract: "Export every case of a desk for the municipality (--desk … --share … --to … --out …), or verify "
            + "a package (--check FILE --identity KEYFILE).",
        discussion: """
            Export: with K recovery share files, every case of desk D (transcripts, notes, records, media, grants),
            the access-log export and the vault's verifier key go into one age file for the recipient age1…, as a
            ZIP with a manifest signed by the vault. Nothing of it is written unencrypted; FILE must not exist.
            The server may be running. Recorded in the access log as `handback`.
            Check: decrypts FILE (an age file) with the identities in KEYFILE (as age-keygen writes it), then checks
            that manifest.json lists every other entry with its size and SHA-256 and that manifest.sig verifies.
            The vault's verifier key comes from --public-key FILE, else the package's own vault-signing.pub (a
            hand-back), else --data DIR's keys/vault-signing.pub. Exit 1 naming what failed.
            """)

    @Option(help: "The package to verify (an age file).") var check: String?
    @Option(help: "An age identity file (AGE-SECRET-KEY-1… lines).") var identity: String?
    @Option(help: "Verifier key file (C2SP key lines, as keys/vault-signing.pub).") var publicKey: String?
    @Option(help: "The vault directory (env CONSULTVAULT_DATA; default ./vault-data).") var data: String?
    @Option(help: "Export: the desk to hand back.") var desk: String?
    @Option(name: .customLong("share"), help: "Export: a recovery share file (repeat K times).") var shares: [String] =
        []
    @Option(help: "Export: the municipality's age recipient (age1…).") var to: String?
    @Option(help: "Export: the age file to write (must not exist).") var out: String?

    var exporting: Bool { desk != nil || !shares.isEmpty || to != nil || out != nil }

    func validate() throws {
        if exporting {
            guard check == nil, identity == nil else {
                throw ValidationError("give either the export options or --check/--identity, not both")
            }
            guard desk != nil, !shares.isEmpty, to != nil, out != nil else {
                throw ValidationError("the export needs --desk D --share FILE… --to age1… --out FILE")
            }
        } else {
            guard check != nil, identity != nil else {
                throw ValidationError("give --check FILE and --identity KEYFILE, or the export options")
            }
        }
    }

    var directory: URL {
        URL(fileURLWithPath: data ?? ProcessInfo.processInfo.environment["CONSULTVAULT_DATA"] ?? "./vault-data")
            .standardizedFileURL
    }

    func run() async throws {
        if exporting {
            try await runReportingErrors {
                let summary = try await export()
                print(
                    "handed back desk \(desk!): \(summary.cases) cases, \(summary.messages) messages, "
                        + "\(summary.mediaFiles) media files; \(summary.packageSize) bytes to \(out!)")
                print("SHA-256 of the file: \(Hex.string(summary.packageSHA256))")
            }
            return
        }
        do {
            let (count, log) = try verifyPackage()
            print("OK: \(count) files, manifest signature and every SHA-256 verified")
            if let log {
                print(
                    "access-log.jsonl: \(log.entries) entries, hash chain and \(log.checkpoints) checkpoints verified")
            }
        } catch let e as AuditVerificationFailure {
            print("FAILED: access-log.jsonl does not verify: \(e)")
            throw ExitCode.failure
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

    /// The export: checks the output file and the recipient, recombines the shares, then writes the package.
    /// - Throws: `VaultError` saying what is wrong; nothing is written then.
    func export() async throws -> HandbackSummary {
        let url = URL(fileURLWithPath: out!).standardizedFileURL
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw VaultError(.conflict, "\(url.path) exists; choose a new file for the hand-back")
        }
        let recipient: AgeRecipient
        do { recipient = try AgeRecipient(to!) } catch {
            throw VaultError(.invalidRequest, "--to must be an age X25519 recipient (age1…, as age-keygen -y prints)")
        }
        let secret = try RecoveryShares.combine(shares)
        let vault = try Vault.open(at: directory)
        let progress = TerminalProgress(title: "hand-back of \(desk!)")
        let summary = try await vault.handback(
            desk: desk!, recoverySecret: secret, to: recipient, out: url, caller: .cli()
        ) { done, all in progress.update(all == 0 ? 1 : Double(done) / Double(all)) }
        progress.finish()
        return summary
    }

    func verify() throws -> Int { try verifyPackage().files }

    /// Decrypts and verifies the package; a hand-back's access-log.jsonl is verified too (hash chain and every
    /// checkpoint signature, as `audit verify --export`).
    /// - Throws: `VaultError`, `AgeError`, `CryptoError` or `AuditVerificationFailure` naming what failed.
    func verifyPackage() throws -> (files: Int, log: AuditVerificationSummary?) {
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
            let path = Vault.keysDirectory(directory).appendingPathComponent("vault-signing.pub").path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw VaultError(
                    .notFound,
                    "no verifier key: give --public-key FILE or --data DIR (the package has no vault-signing.pub)")
            }
            keyLines = text
        }
        let verifiers = try NoteVerifier.parseFile(keyLines)
        let files = try PackageCheck.verify(entries, signingKeys: verifiers.map(\.publicKey))
        guard let log = entries["access-log.jsonl"] else { return (files, nil) }
        let checker = AuditVerifier(verifiers: verifiers)
        try log.withUnsafeBufferPointer { try checker.feedExport($0) }
        return (files, try checker.finish())
    }
}
