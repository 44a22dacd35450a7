import ArgumentParser
import Foundation
import VaultCore

struct AuditExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the access log as JSON Lines: every entry, then every signed note (schema/FORMAT.md §6.6).")

    @OptionGroup var options: DataOptions
    @Option(help: "The file to write (must not exist).") var out: String

    func run() async throws {
        try await runReportingErrors {
            let vault = try options.openVault()
            guard FileManager.default.createFile(atPath: out, contents: nil, attributes: [.posixPermissions: 0o600]),
                !out.isEmpty
            else { throw VaultError(.storageUnavailable, "cannot create \(out)") }
            guard let handle = FileHandle(forWritingAtPath: out) else {
                throw VaultError(.storageUnavailable, "cannot open \(out)")
            }
            defer { try? handle.close() }
            try await vault.recordAuditRead(.cli(), target: "audit:export")
            let entries = try await vault.writeAuditExport { chunk in try handle.write(contentsOf: chunk) }
            try handle.synchronize()
            print("wrote \(entries) entries and their signed notes to \(out)")
        }
    }
}
