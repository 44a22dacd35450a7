import ArgumentParser
import Foundation
import VaultCore

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify the access log's chain and signatures offline; exit 1 naming the first bad seq.",
        discussion: """
            --export FILE needs no database: give the vault's verifier key with --public-key (one C2SP key line per
            line; list the old key too after a signing-key rotation) and the shipped checkpoint file with
            --checkpoints to detect a truncated tail. --data DIR verifies the live vault against
            DIR/audit-checkpoints.log and DIR/keys/vault-signing.pub.
            """)

    @Option(help: "The vault directory for a live verify (env CONSULTVAULT_DATA; default ./vault-data).")
    var data: String?
    @Option(help: "An export written by `audit export`.") var export: String?
    @Option(help: "Verifier key file (default with --data: DIR/keys/vault-signing.pub).") var publicKey: String?
    @Option(help: "Checkpoint file (default with --data: DIR/audit-checkpoints.log).") var checkpoints: String?

    func validate() throws {
        guard export == nil || data == nil else { throw ValidationError("give either --export or --data, not both") }
        if export != nil, publicKey == nil {
            throw ValidationError("--export needs --public-key FILE (the vault's verifier key, from vault-signing.pub)")
        }
    }

    func run() async throws {
        let started = Date()
        let result: Result<AuditVerificationSummary, AuditVerificationFailure>
        do {
            result = try await verify()
        } catch let e as VaultError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode.failure
        }
        switch result {
        case .success(let summary):
            let seconds = Date().timeIntervalSince(started)
            let rate = seconds > 0 ? Int(Double(summary.entries) / seconds) : 0
            print(summary.line + String(format: " (%.2f s, %d entries/s)", seconds, rate))
        case .failure(let failure):
            print("FAILED: \(failure.description)")
            throw ExitCode.failure
        }
    }

    private func verify() async throws -> Result<AuditVerificationSummary, AuditVerificationFailure> {
        let progress = TerminalProgress(title: "verifying")
        defer { progress.finish() }
        do {
            if let export {
                let keys = try readKeys(publicKey!)
                let verifier = AuditVerifier(verifiers: keys)
                if let checkpoints { try addCheckpoints(verifier, path: checkpoints) }
                guard let data = try? Data(contentsOf: URL(fileURLWithPath: export), options: .alwaysMapped) else {
                    throw VaultError(.notFound, "cannot read --export \(export)")
                }
                try data.withUnsafeBytes { raw in
                    try verifier.feedExport(raw.bindMemory(to: UInt8.self)) { progress.update($0) }
                }
                return .success(try verifier.finish())
            }
            let options = DataOptions(data: data)
            let vault = try options.openVault()
            try await vault.recordAuditRead(.cli(), target: "audit:verify")
            let keys = try publicKey.map(readKeys)
            let file = checkpoints.map { CheckpointFile(url: URL(fileURLWithPath: $0)) }
            return .success(try await vault.verifyAuditLog(verifiers: keys, checkpointFile: file))
        } catch let f as AuditVerificationFailure {
            return .failure(f)
        }
    }

    private func readKeys(_ path: String) throws -> [NoteVerifier] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw VaultError(.notFound, "cannot read --public-key \(path)")
        }
        return try NoteVerifier.parseFile(text)
    }

    private func addCheckpoints(_ verifier: AuditVerifier, path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VaultError(.notFound, "cannot read --checkpoints \(path)")
        }
        try verifier.addCheckpointFile(Array(data), name: URL(fileURLWithPath: path).lastPathComponent)
    }
}
