extension VaultDatabase {
    /// Migration "v2-audit": signed notes (checkpoints, restore markers, purge notes; also appended to
    /// `audit-checkpoints.log`), break-glass reviews, and an index for the auditor's queries.
    static let auditSchema: [String] = [
        """
        CREATE TABLE audit_notes (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'restore', 'purge')),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            time INTEGER NOT NULL,
            note TEXT NOT NULL
        )
        """,
        "CREATE INDEX audit_notes_seq ON audit_notes(seq)",
        """
        CREATE TRIGGER audit_notes_append_only_update BEFORE UPDATE ON audit_notes
        BEGIN SELECT RAISE(ABORT, 'audit_notes is append-only'); END
        """,
        """
        CREATE TRIGGER audit_notes_append_only_delete BEFORE DELETE ON audit_notes
        BEGIN SELECT RAISE(ABORT, 'audit_notes is append-only'); END
        """,
        """
        CREATE TABLE audit_reviews (
            breakglass_seq INTEGER PRIMARY KEY NOT NULL REFERENCES access_log(seq),
            review_seq INTEGER NOT NULL UNIQUE REFERENCES access_log(seq),
            reviewer TEXT NOT NULL,
            reviewed_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX access_log_action ON access_log(action, seq)",
    ]
}
