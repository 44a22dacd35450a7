import ArgumentParser
import Foundation
import VaultCore

extension DeskCommand {
    struct SetReopenWindow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-reopen-window",
            abstract: "Days after a case closes within which the person's next case counts as reopened (default 30).")

        @OptionGroup var options: DataOptions
        @Option var name: String
        @Option var days: Int

        func run() async throws {
            try await runReportingErrors {
                try await options.openVault().setReopenWindow(desk: name, days: days, caller: .cli())
                print("reopen window of \(name) is now \(days) days")
            }
        }
    }
}
