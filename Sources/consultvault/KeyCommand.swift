import ArgumentParser
import VaultCore

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Vault key rotation.", subcommands: [RotateSigning.self])

    struct RotateSigning: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing",
            abstract: "Replace the vault signing key; a checkpoint carries both signatures; old keys stay verifiable.",
            discussion: """
                Restart `serve` afterwards so it signs with the new key. Give the auditors the new
                keys/vault-signing.pub (it lists the new verifier key first, then the earlier ones).
                """)

        @OptionGroup var options: DataOptions

        func run() async throws {
            try await runReportingErrors {
                let line = try await options.openVault().rotateSigningKey(caller: .cli())
                print("rotated the vault signing key; restart serve. New verifier key:")
                print(line)
            }
        }
    }
}
