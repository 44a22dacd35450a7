import ArgumentParser
import VaultCore

struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Crypto-shred closed cases past their desk's retention, unless on hold; recorded with ids and counts."
    )

    @OptionGroup var options: DataOptions
    @Flag(help: "Only report what would be purged.") var dryRun = false

    func run() async throws {
        try await runReportingErrors {
            let r = try await options.openVault().purge(dryRun: dryRun, caller: .cli())
            let verb = dryRun ? "would purge" : "purged"
            print("\(verb) \(r.cases.count) case(s), \(r.messages) message(s), \(r.wraps) key wrap(s); \(r.held) held")
            for id in r.cases { print("  case \(id)") }
            if !r.failed.isEmpty {
                // The ids are in the access log (purge, outcome error); the operator's terminal gets them too.
                for id in r.failed { print("  not purged: case \(id)") }
                throw VaultError(
                    .conflict,
                    "\(r.failed.count) case(s) could not be purged; the others were. See ops/RUNBOOK.md §6 and retry.")
            }
        }
    }
}
