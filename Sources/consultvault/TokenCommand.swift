import ArgumentParser
import VaultCore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Relay tokens.", subcommands: [Issue.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a relay token for one or more desks; printed once, alone on the last line.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(help: "relay") var role: String = "relay"
        @Option(name: .customLong("desk"), help: "A desk the relay may write to (repeatable).") var desks: [String] = []

        func run() async throws {
            try await runReportingErrors {
                guard role == "relay" else { throw VaultError(.invalidRequest, "--role must be relay") }
                let token = try await options.openVault().issueRelayToken(name: name, desks: desks, caller: .cli())
                print("relay token \(name) for \(desks.joined(separator: ", ")); stored only as a hash, shown once:")
                print(token)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a relay token at once. To rotate without downtime, issue the new one first.")

        @OptionGroup var options: DataOptions
        @Option var name: String

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().revokeRelayToken(name: name, caller: .cli())
                print("revoked relay token \(name)")
            }
        }
    }
}
