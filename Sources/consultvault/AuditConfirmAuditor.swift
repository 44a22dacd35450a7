import ArgumentParser
import VaultCore

struct AuditConfirmAuditor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confirm-auditor",
        abstract: "As auditor B, seal the auditors' key to enrolled auditor A only if F matches A's fingerprint.",
        discussion: "B's passphrase from CONSULTVAULT_PASSPHRASE or a prompt. Exit 1 and nothing sealed on mismatch.")

    @OptionGroup var options: DataOptions
    @Option(help: "The auditor to confirm (enrolled).") var username: String
    @Option(name: .customLong("as"), help: "The confirming auditor, who holds the auditors' key.") var auditor: String
    @Option(help: "A's fingerprint, as they read it to you.") var fingerprint: String

    func run() async throws {
        try await runReportingErrors {
            let vault = try options.openVault()
            let me = try await Secrets.unlock(vault, as: auditor)
            try await vault.confirmAuditor(
                username: username, fingerprint: fingerprint, as: me, requestID: Caller.cli().requestID)
            print("confirmed auditor \(username); the auditors' key is sealed to them")
        }
    }
}
