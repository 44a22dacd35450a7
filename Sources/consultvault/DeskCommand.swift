import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

struct DeskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desk", abstract: "Desks: membership, recovery, retention, LINE channel secret, relay key.",
        subcommands: [
            Add.self, Accept.self, Invite.self, Confirm.self, RemoveMember.self, Recover.self, SetRetention.self,
            ApproveRetention.self,
            SetUnsend.self, SetLineSecret.self, SetRelayKey.self, Rehash.self, SetReopenWindow.self,
        ])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a desk sealed to its founding supervisor. Needs an enrolled auditor.",
            discussion: """
                The recovery key is listed but receives nothing until a supervisor of the desk vouches for it \
                (`desk accept`), typing its fingerprint as the municipality gave it to them.
                """
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
                print(
                    "next: \(supervisor) runs `consultvault desk accept --name \(name) --as \(supervisor) "
                        + "--recovery-fingerprint F` with F from the municipality's copy of `recovery-key new`; "
                        + "until then no desk secret is sealed to the recovery key")
            }
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "As the founding supervisor S, accept a proposed desk: its keys are made and sealed to S and the recovery key.",
            discussion: """
                S's passphrase from CONSULTVAULT_PASSPHRASE or a prompt. F is the recovery key's fingerprint as the \
                municipality's copy of `recovery-key new` shows it; exit 1 and nothing sealed on a mismatch.
                """)

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(name: .customLong("as"), help: "A supervisor of the desk (normally the founding one).") var supervisor:
            String
        @Option(help: "The recovery key's fingerprint, from the municipality.") var recoveryFingerprint: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let me = try await Secrets.unlock(vault, as: supervisor)
                try await vault.acceptDesk(
                    name: name, recoveryFingerprint: recoveryFingerprint, as: me, requestID: Caller.cli().requestID)
                print("accepted desk \(name): its secrets are now sealed to the recovery key as well")
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
                let me = try await Secrets.unlock(vault, as: supervisor)
                try await vault.confirm(
                    desk: name, username: username, fingerprint: fingerprint, supervisor: me,
                    requestID: Caller.cli().requestID)
                print("confirmed \(username) on \(name); the desk key is sealed to them")
            }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-member",
            abstract: "Remove a member; the desk's keys rotate and their wraps go at once.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var username: String

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().removeMember(desk: name, username: username, caller: .cli())
                print("removed \(username) from \(name); the desk's keys were rotated")
            }
        }
    }

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "With K recovery share files, re-seal a desk's keys to an enrolled supervisor.",
            discussion: "The recombined secret lives only in protected memory for this command and is wiped after.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(name: .customLong("to"), help: "The enrolled supervisor who receives the desk keys.") var supervisor:
            String
        @Option(name: .customLong("share"), help: "A share file (repeat K times).") var shares: [String] = []

        func run() async throws {
            try await runReportingErrors {
                let secret = try RecoveryShares.combine(shares)
                try await options.openVault().recoverDesk(
                    name: name, to: supervisor, recoverySecret: secret, caller: .cli())
                print("recovered desk \(name): its keys are sealed to \(supervisor)")
            }
        }
    }

    struct SetRetention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-retention",
            abstract: "Retention in days for the desk's closed cases; a shortening waits for a supervisor's approval.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var days: Int

        func run() async throws {
            try await runReportingErrors {
                let applied = try await options.openVault().setRetention(desk: name, days: days, caller: .cli())
                print(
                    applied
                        ? "retention of \(name) is now \(days) days"
                        : "shortening to \(days) days waits for `desk approve-retention --name \(name) --as SUPERVISOR`"
                )
            }
        }
    }

    struct ApproveRetention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "approve-retention", abstract: "As supervisor S of the desk, approve a pending shortening.",
            discussion: "S's passphrase from CONSULTVAULT_PASSPHRASE or a prompt.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(name: .customLong("as"), help: "The approving supervisor.") var supervisor: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let me = try await Secrets.unlock(vault, as: supervisor)
                let days = try await vault.approveRetention(desk: name, as: me, requestID: Caller.cli().requestID)
                print("retention of \(name) is now \(days) days")
            }
        }
    }

    struct SetUnsend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-unsend", abstract: "What a LINE unsend does to the stored message: keep-marked or delete."
        )

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var policy: String

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().setUnsendPolicy(desk: name, policy: policy, caller: .cli())
                print("unsend policy of \(name) is now \(policy)")
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
                let me = try await Secrets.unlock(vault, as: supervisor)
                try await vault.setRelayKey(
                    desk: name, publicKey: Array(key), supervisor: me, requestID: Caller.cli().requestID)
                print("registered the relay key of \(name); replies are sealed to it from now on")
            }
        }
    }

    struct Rehash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "As supervisor S, recompute the desk's routing ids under the new pseudonym key.",
            discussion: "S's passphrase from CONSULTVAULT_PASSPHRASE or a prompt.")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option(name: .customLong("as"), help: "A supervisor of the desk.") var supervisor: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let me = try await Secrets.unlock(vault, as: supervisor)
                let n = try await vault.rehashDesk(name: name, as: me, requestID: Caller.cli().requestID)
                print("rehashed \(n) case(s) of \(name)")
            }
        }
    }
}
