import ArgumentParser
import Foundation
import VaultCore

struct AuditReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the auditor's HTML report for a period (reasons decrypted with A's key).",
        discussion: """
            DATE is yyyy-mm-dd (UTC; --until includes that whole day) or an RFC 3339 time. A's passphrase from
            CONSULTVAULT_PASSPHRASE or a prompt. The page is self-contained: no external assets.
            """)

    @OptionGroup var options: DataOptions
    @Option(help: "First day (or time) of the period.") var since: String
    @Option(help: "Last day (inclusive) or end time (exclusive) of the period.") var until: String
    @Option(help: "The HTML file to write.") var out: String
    @Option(name: .customLong("as"), help: "The auditor.") var auditor: String

    func run() async throws {
        try await runReportingErrors {
            guard let from = AuditReport.parseDate(since, endOfDay: false),
                let to = AuditReport.parseDate(until, endOfDay: true)
            else { throw VaultError(.invalidRequest, "--since and --until must be yyyy-mm-dd or RFC 3339 times") }
            let vault = try options.openVault()
            let me = try await Secrets.unlock(vault, as: auditor)
            let report = try await vault.auditReport(
                since: from, until: to, as: me, requestID: Caller.cli().requestID)
            let html = try report.html()
            guard
                FileManager.default.createFile(
                    atPath: out, contents: Data(html.utf8), attributes: [.posixPermissions: 0o600])
            else { throw VaultError(.storageUnavailable, "cannot write \(out)") }
            print(
                "wrote \(out): \(report.actors.count) actors, \(report.breakGlass.count) break-glass, "
                    + "\(report.denied.count) denied, \(report.unlockFailures.count) unlock failures")
        }
    }
}
