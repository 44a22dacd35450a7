import ArgumentParser
import VaultCore

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Vault key rotation.",
        subcommands: [RotateSigning.self, RotatePseudonym.self, FinishPseudonym.self])

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

    struct RotatePseudonym: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-pseudonym",
            abstract: "Start replacing the pseudonym key; both keys route until every desk is rehashed.",
            discussion: """
                Then restart `serve`, have a supervisor of each desk run `desk rehash --name D --as S`, and end with
                `key finish-pseudonym`.
                """)

        @OptionGroup var options: DataOptions

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().rotatePseudonymKey(caller: .cli())
                print(
                    "new pseudonym key installed; restart serve, then rehash every desk and run `key finish-pseudonym`")
            }
        }
    }

    struct FinishPseudonym: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "finish-pseudonym", abstract: "End a pseudonym rotation once every desk is rehashed.")

        @OptionGroup var options: DataOptions

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().finishPseudonymRotation(caller: .cli())
                print("pseudonym rotation finished; the previous key was removed. Restart serve.")
            }
        }
    }
}
