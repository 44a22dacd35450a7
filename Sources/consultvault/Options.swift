import ArgumentParser
import Foundation
import VaultCore
import VaultCrypto

/// `--data DIR` (default ./vault-data, env CONSULTVAULT_DATA), shared by every command.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The vault directory (env CONSULTVAULT_DATA; default ./vault-data).")
    var data: String?

    init() {}

    init(data: String?) { self.data = data }

    var directory: URL {
        URL(fileURLWithPath: data ?? ProcessInfo.processInfo.environment["CONSULTVAULT_DATA"] ?? "./vault-data")
            .standardizedFileURL
    }

    func openVault(settings: VaultSettings = VaultSettings()) throws -> Vault {
        try Vault.open(at: directory, settings: settings)
    }
}

/// Secrets come from an environment variable (scripts) or a no-echo prompt (people), never from arguments.
enum Secrets {
    static func read(env: String, prompt: String) throws -> String {
        if let v = ProcessInfo.processInfo.environment[env], !v.isEmpty { return v }
        guard let v = SecretPrompt.read(prompt), !v.isEmpty else {
            throw VaultError(.invalidRequest, "no value given; type it at the prompt or set \(env)")
        }
        return v
    }
}

extension Secrets {
    /// Unlocks the acting user of a `--as` command with their passphrase (CONSULTVAULT_PASSPHRASE or a prompt).
    static func unlock(_ vault: Vault, as username: String) async throws -> UnlockedUser {
        let passphrase = try read(env: "CONSULTVAULT_PASSPHRASE", prompt: "Passphrase for \(username): ")
        return try await vault.unlockForCLI(username: username, passphrase: passphrase)
    }
}

/// Prints a domain error as `error: …` on stderr and exits 1.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as VaultError {
        FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
        throw ExitCode.failure
    } catch let e as CryptoError {
        // A libsodium check that failed on stored material: the same code the API answers (integrity_failure).
        FileHandle.standardError.write(
            Data("error: integrity_failure: stored key material failed its check (\(e.code.rawValue))\n".utf8))
        throw ExitCode.failure
    }
}
