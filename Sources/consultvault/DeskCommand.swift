import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

struct DeskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desk", abstract: "Desks: add, invite, confirm, LINE channel secret, relay key.",
        subcommands: [Add.self, Invite.self, Confirm.self, SetLineSecret.self, SetRelayKey.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a desk sealed to its founding supervisor and the recovery key. Needs an enrolled auditor."
        )

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(help: "The founding supervisor (enrolled).") var supervisor: String
        @Option(help: "The recovery public key (base64) printed by `recovery-key new`.") var recoveryKey: String
        @Option var retentionDays: Int?

        func run() async throws {
            try await runReportingErrors {
                guard let key = Data(base64Encoded: recoveryKey), key.count == 32 else {
                    throw VaultError(
                        .invalidRequest, "--recovery-key must be the base64 public key printed by `recovery-key new`")
                }
                let vault = try options.openVault()
                try await vault.addDesk(
                    name: name, supervisor: supervisor, recoveryKey: Array(key), retentionDays: retentionDays,
                    caller: .cli())
                print("created desk \(name) with founding supervisor \(supervisor)")
            }
        }
    }

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Propose a member; they read nothing until a supervisor confirms.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var username: String

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().invite(desk: name, username: username, caller: .cli())
                print("invited \(username) to \(name); a supervisor of \(name) confirms with `desk confirm`")
            }
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "As supervisor S, seal the desk key(s) to U only if F matches U's fingerprint.",
            discussion:
                "S's passphrase from CONSULTVAULT_PASSPHRASE or a prompt. Exit 1 and nothing sealed on mismatch.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var username: String
        @Option(name: .customLong("as"), help: "The confirming supervisor.") var supervisor: String
        @Option(help: "The member's fingerprint, as they read it to you.") var fingerprint: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let passphrase = try Secrets.read(
                    env: "CONSULTVAULT_PASSPHRASE", prompt: "Passphrase for \(supervisor): ")
                let me = try await vault.unlockForCLI(username: supervisor, passphrase: passphrase)
                try await vault.confirm(
                    desk: name, username: username, fingerprint: fingerprint, supervisor: me,
                    requestID: Caller.cli().requestID)
                print("confirmed \(username) on \(name); the desk key is sealed to them")
            }
        }
    }

    struct SetLineSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-line-secret",
            abstract: "Store desk D's LINE channel secret, sealed under keys/vault-box.key.",
            discussion: "The secret comes from CONSULTVAULT_LINE_SECRET or a no-echo prompt; never an argument.")

        @OptionGroup var options: DataOptions
        @Option var name: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                var raw = Array(
                    try Secrets.read(env: "CONSULTVAULT_LINE_SECRET", prompt: "LINE channel secret for \(name): ")
                        .trimmingCharacters(in: .whitespacesAndNewlines).utf8)
                guard !raw.isEmpty else { throw VaultError(.invalidRequest, "the LINE channel secret is empty") }
                let secret = try SecretBytes(consuming: &raw)
                try await vault.setLineSecret(desk: name, secret: secret, caller: .cli())
                print("stored the LINE channel secret of \(name) (sealed)")
            }
        }
    }

    struct SetRelayKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-relay-key",
            abstract: "As supervisor S, register the relay's X25519 public key for outbox replies (new desk manifest).",
            discussion: "S's passphrase from CONSULTVAULT_PASSPHRASE or a prompt. Admins cannot do this.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(help: "The relay's X25519 public key, base64 (32 bytes).") var publicKey: String
        @Option(name: .customLong("as"), help: "A confirmed supervisor of the desk.") var supervisor: String

        func run() async throws {
            try await runReportingErrors {
                guard let key = Data(base64Encoded: publicKey), key.count == 32 else {
                    throw VaultError(.invalidRequest, "--public-key must be a base64 X25519 public key (32 bytes)")
                }
                let vault = try options.openVault()
                let passphrase = try Secrets.read(
                    env: "CONSULTVAULT_PASSPHRASE", prompt: "Passphrase for \(supervisor): ")
                let me = try await vault.unlockForCLI(username: supervisor, passphrase: passphrase)
                try await vault.setRelayKey(
                    desk: name, publicKey: Array(key), supervisor: me, requestID: Caller.cli().requestID)
                print("registered the relay key of \(name); replies are sealed to it from now on")
            }
        }
    }
}
