import ArgumentParser
import Foundation
import Logging
import VaultCrypto
import VaultRelay

/// `consultvault relay --config FILE` runs the relay (LINE ↔ vault); `relay keygen --out FILE` makes its key pair.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract:
            "Run the LINE relay: webhooks to the vault, replies from its outbox to LINE (API.md \"Relay service\").",
        discussion: """
            The config file (JSON) and every file it names must be mode 0600 or 0400. Logs are JSON lines on
            standard error; the relay writes no files.
            """,
        subcommands: [Keygen.self])

    @Option(name: .long, help: "The relay's JSON config file (required unless a subcommand is given).")
    var config: String?

    func run() async throws {
        guard let config else {
            throw ValidationError("Missing --config FILE (the relay's JSON config; see ops/relay.example.json)")
        }
        _ = Hardening.disableCoreDumps()
        Hardening.limitMallocArenas()
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "consultvault.relay")
        let loaded: RelayConfig
        do {
            loaded = try RelayConfig.load(path: config)
        } catch let e as RelayConfigError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode.failure
        }
        logger.info(
            "relay starting",
            metadata: [
                "listen": "\(loaded.host):\(loaded.port)",
                "desks": "\(loaded.channels.map(\.desk).joined(separator: ","))",
            ])
        let app = buildRelayApplication(config: loaded, logger: logger)
        try await app.runService()
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new X25519 key pair for the relay (mode 0600); print the public key last.")

        @Option(name: .long, help: "The key file to create (must not exist).")
        var out: String

        func run() async throws {
            do {
                let publicKey = try RelayKeyFile.generate(to: out)
                print(
                    "wrote \(out); register the public key with: consultvault desk set-relay-key --name DESK --public-key KEY --as SUPERVISOR"
                )
                print(publicKey)
            } catch let e as RelayConfigError {
                FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
