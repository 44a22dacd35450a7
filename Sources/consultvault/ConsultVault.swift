import ArgumentParser

@main
struct ConsultVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultvault",
        abstract: "An encrypted, access-logged vault for chat consultation records.",
        discussion: """
            A first vault, in order: init → recovery-key new → user add (admin, auditor, supervisor, counselors) →
            user enroll each (the auditor first) → desk add → desk invite → desk confirm → token issue → serve.
            Secrets never go on the command line: they come from a no-echo prompt or the environment variable a
            command's help names.
            """,
        subcommands: [
            Init.self, Serve.self, UserCommand.self, RecoveryKeyCommand.self, DeskCommand.self, TokenCommand.self,
            PurgeCommand.self, BackupCommand.self, RestoreCommand.self, KeyCommand.self,
            AuditCommand.self, RelayCommand.self, HandbackCommand.self, StatsCommand.self,
        ])
}
