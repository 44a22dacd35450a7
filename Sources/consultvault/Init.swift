import ArgumentParser
import VaultCore
import VaultCrypto

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a vault: database, keys/ (0700, files 0600); prints the vault's verifier key last.")

    @OptionGroup var options: DataOptions

    @Option(help: "Argon2id profile: moderate (production default), interactive or test (demo/test vaults only).")
    var kdf: String = "moderate"

    @Option(help: "Retention floor in days for every desk (default 365; 0 for demo/test vaults).")
    var minRetentionDays: Int?

    func run() async throws {
        try await runReportingErrors {
            guard let profile = KDFParameters.Profile(rawValue: kdf) else {
                throw VaultError(.invalidRequest, "--kdf must be moderate, interactive or test")
            }
            let vault = try Vault.create(at: options.directory, kdf: profile, minRetentionDays: minRetentionDays)
            if vault.isDemoVault {
                print("warning: --kdf \(kdf) makes a demo/test vault; use moderate for real consultations")
            }
            print("created vault \(vault.keys.vaultID) in \(options.directory.path)")
            print("verifier key (keep a copy with the auditors):")
            print(vault.keys.verifierKey)
        }
    }
}
