import ArgumentParser
import Foundation
import VaultCore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Accounts: add (admin) and enroll (the user).",
        subcommands: [Add.self, Enroll.self, Disable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account; prints a one-time enrollment code (valid 72 h) alone on the last line.")

        @OptionGroup var options: DataOptions
        @Option var username: String
        @Option(help: "counselor, supervisor, auditor or admin") var role: String

        func run() async throws {
            try await runReportingErrors {
                guard let role = Role(rawValue: role) else {
                    throw VaultError(.invalidRequest, "--role must be counselor, supervisor, auditor or admin")
                }
                let vault = try options.openVault()
                let (code, expires) = try await vault.addUser(username: username, role: role, caller: .cli())
                print("created \(role.rawValue) \(username); enrollment code valid until \(Timestamp.format(expires)).")
                print("Give it to \(username) in person; they run `consultvault user enroll --username \(username)`.")
                print(code)
            }
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Choose a passphrase with your enrollment code; creates your key pairs; prints your fingerprint.",
            discussion:
                "Code from CONSULTVAULT_ENROLL_CODE and passphrase from CONSULTVAULT_NEW_PASSPHRASE, or prompts.")

        @OptionGroup var options: DataOptions
        @Option var username: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let code = try Secrets.read(env: "CONSULTVAULT_ENROLL_CODE", prompt: "Enrollment code: ")
                var passphrase = ProcessInfo.processInfo.environment["CONSULTVAULT_NEW_PASSPHRASE"] ?? ""
                if passphrase.isEmpty {
                    passphrase = try Secrets.read(env: "CONSULTVAULT_NEW_PASSPHRASE", prompt: "New passphrase: ")
                    let again = try Secrets.read(env: "CONSULTVAULT_NEW_PASSPHRASE", prompt: "Repeat passphrase: ")
                    guard again == passphrase else { throw VaultError(.invalidRequest, "the passphrases differ") }
                }
                let fingerprint = try await vault.enroll(
                    username: username, code: code, passphrase: passphrase, requestID: Caller.cli().requestID)
                print("enrolled \(username). Your key fingerprint (a supervisor compares it with you in person):")
                print(fingerprint)
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account: its sessions end at once and its desks' keys rotate.")

        @OptionGroup var options: DataOptions
        @Option var username: String

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().disableUser(username: username, caller: .cli())
                print("disabled \(username); their desks' keys were rotated")
            }
        }
    }
}
