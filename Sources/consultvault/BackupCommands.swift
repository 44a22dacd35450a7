import ArgumentParser
import Foundation
import VaultCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Consistent online snapshot of a running vault (database + checkpoint log) in one file.",
        discussion: "keys/ is not in it: back keys/ up separately and keep the copies apart (ops/RUNBOOK.md).")

    @OptionGroup var options: DataOptions
    @Option(help: "The backup file to create (must not exist).") var out: String

    func run() async throws {
        try await runReportingErrors {
            let meta = try await options.openVault().backup(to: URL(fileURLWithPath: out), caller: .cli())
            print("backed up vault \(meta.vaultID) up to access-log seq \(meta.lastSeq) into \(out)")
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into an empty directory with a copy of keys/; appends a signed restore marker.",
        discussion: """
            The backup's access log must verify against the checkpoint file (default: the backup's own; give the
            newer DIR/audit-checkpoints.log with --checkpoints to also re-apply purges made after the backup).
            """)

    @Option(help: "The backup file.") var from: String
    @Option(help: "A copy of the vault's keys/ directory (0700, files 0600).") var keys: String
    @Option(help: "The new, empty data directory.") var data: String
    @Option(help: "A checkpoint file to verify against (default: the backup's own).") var checkpoints: String?

    func run() async throws {
        do {
            let summary = try await Vault.restore(
                from: URL(fileURLWithPath: from), keys: URL(fileURLWithPath: keys), to: URL(fileURLWithPath: data),
                checkpoints: checkpoints.map { URL(fileURLWithPath: $0) }, caller: .cli())
            print(
                "restored \(summary.entries) access-log entries into \(data); re-applied "
                    + "\(summary.reappliedPurges.count) purge(s); a signed restore marker was appended")
        } catch let f as AuditVerificationFailure {
            FileHandle.standardError.write(
                Data("error: the backup's access log does not verify: \(f.description)\n".utf8))
            throw ExitCode.failure
        } catch let e as VaultError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode.failure
        }
    }
}
