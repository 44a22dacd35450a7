import ArgumentParser

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The access log: export, verify, report; confirm auditors.",
        subcommands: [AuditConfirmAuditor.self, AuditExport.self, AuditVerify.self, AuditReportCommand.self])
}
