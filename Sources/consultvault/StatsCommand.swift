import ArgumentParser
import Foundation
import VaultCore

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Write a desk's statistics (CSV, JSON or a self-contained HTML report) as supervisor or auditor S.",
        discussion: """
            DATE is yyyy-mm-dd in the desk's time zone (Asia/Tokyo); --to is inclusive. Counts of 1 or 2 are written
            as <3, with complementary suppression (README "Statistics"). CSV is UTF-8 with a byte order mark and
            Japanese headers (--lang en for English), so it opens correctly in Japanese Excel. S's passphrase from
            CONSULTVAULT_PASSPHRASE or a prompt; recorded as statistics.read.
            """)

    enum Format: String, ExpressibleByArgument { case csv, json, html }
    enum Group: String, ExpressibleByArgument { case day, week, month }
    enum Lang: String, ExpressibleByArgument { case ja, en }

    @OptionGroup var options: DataOptions
    @Option(help: "The desk.") var desk: String
    @Option(help: "First day, yyyy-mm-dd.") var from: String
    @Option(help: "Last day (inclusive), yyyy-mm-dd.") var to: String
    @Option(help: "day, week or month.") var group: Group = .day
    @Option(help: "csv, json or html.") var format: Format
    @Option(help: "The file to write (0600).") var out: String
    @Option(name: .customLong("as"), help: "A supervisor of the desk, or an auditor.") var user: String
    @Option(help: "Labels: ja (default) or en.") var lang: Lang = .ja

    func run() async throws {
        try await runReportingErrors {
            let vault = try options.openVault()
            let me = try await Secrets.unlock(vault, as: user)
            let clock = ContinuousClock()
            let began = clock.now
            let report = try await vault.statistics(
                desk: desk, from: from, to: to, group: StatisticsGroup(rawValue: group.rawValue) ?? .day, as: me,
                requestID: Caller.cli().requestID)
            let took = clock.now - began
            let language = StatisticsReport.Language(rawValue: lang.rawValue) ?? .ja
            let bytes: [UInt8]
            switch format {
            case .csv: bytes = report.csv(language)
            case .json: bytes = Array(try report.publishedJSON())
            case .html: bytes = Array(try report.html(language).utf8)
            }
            guard
                FileManager.default.createFile(
                    atPath: out, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
            else { throw VaultError(.storageUnavailable, "cannot write \(out)") }
            let ms = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
            print("wrote \(out): \(report.buckets.count) bucket(s) of \(desk), \(from) to \(to); computed in \(ms) ms")
        }
    }
}
