import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

struct RecoveryKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-key", abstract: "The municipality's offline recovery key.", subcommands: [New.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a recovery key pair; write N Shamir share files (any K recover it); print the public key.",
            discussion: """
                The secret itself is never written: only the share files, one per holder, to print and store apart.
                The public key (last line) goes to `desk add --recovery-key`; the fingerprint to the founding \
                supervisor, who checks it at `desk accept`.
                """)

        @OptionGroup var options: DataOptions
        @Option var shares: Int = 1
        @Option var threshold: Int = 1
        @Option(help: "A new or empty directory for the share files.") var out: String

        func run() async throws {
            try await runReportingErrors {
                guard (1...255).contains(shares), (1...shares).contains(threshold) else {
                    throw VaultError(.invalidRequest, "need 1 ≤ --threshold ≤ --shares ≤ 255")
                }
                let dir = URL(fileURLWithPath: out)
                let fm = FileManager.default
                if fm.fileExists(atPath: dir.path) {
                    guard (try? fm.contentsOfDirectory(atPath: dir.path))?.isEmpty == true else {
                        throw VaultError(.conflict, "\(dir.path) is not empty; choose a new directory for the shares")
                    }
                } else {
                    try fm.createDirectory(
                        at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                }
                let pair = try BoxKeyPair.generate()
                let parts = try Shamir.split(pair.secretKey, shares: shares, threshold: threshold)
                for share in parts {
                    let path = dir.appendingPathComponent("recovery-share-\(share.x)-of-\(shares).txt").path
                    guard
                        fm.createFile(
                            atPath: path, contents: Data(share.encodeFile(publicKey: pair.publicKey).utf8),
                            attributes: [.posixPermissions: 0o600])
                    else { throw VaultError(.storageUnavailable, "cannot write \(path)") }
                }
                print("wrote \(shares) share files to \(dir.path); any \(threshold) of them recover the key.")
                print("Print each, give it to a different holder, store them apart, then delete the files.")
                print(
                    "Fingerprint (give it to each desk's founding supervisor, who types it at `desk accept`): "
                        + Vault.recoveryFingerprint(pair.publicKey))
                print(Data(pair.publicKey).base64EncodedString())
            }
        }
    }
}
