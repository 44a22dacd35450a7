extension VaultDatabase {
    /// Migration "v9-records-triage": per-desk taxonomies (JSON, schema/FORMAT.md "Case records") and the coded
    /// case records, stored unsealed (codes only, no text; ops/THREAT-MODEL.md says why). Categories and referrals,
    /// several per record, are rows of `case_record_codes`, indexed by desk for the statistics.
    static let recordsSchema: [String] = [
        """
        CREATE TABLE desk_taxonomies (
            desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
            body TEXT NOT NULL CHECK (json_valid(body)),
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE case_records (
            case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            age_band TEXT,
            gender TEXT,
            outcome TEXT,
            updated_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX case_records_desk ON case_records(desk_id)",
        """
        CREATE TABLE case_record_codes (
            case_id BLOB NOT NULL REFERENCES case_records(case_id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            kind TEXT NOT NULL CHECK (kind IN ('category', 'referral')),
            code TEXT NOT NULL,
            PRIMARY KEY (case_id, kind, code)
        )
        """,
        "CREATE INDEX case_record_codes_desk ON case_record_codes(desk_id, kind, code)",
        // Triage: a desk's keyword lists, sealed under keys/vault-box.key (FORMAT.md "Triage keywords"), and the
        // flag a keyword match sets on a case (which word matched is never stored).
        """
        CREATE TABLE desk_triage (
            desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
            keywords_box BLOB NOT NULL CHECK (length(keywords_box) > 40),
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE case_keyword_flags (
            case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
            flagged_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        // Statistics: one ordered pass over a desk's messages in a period reads this covering index only (time
        // ordered, so an ingest appends at its right edge); cases opened and closed in a period by index.
        "CREATE INDEX messages_desk_time ON messages(desk_id, sent_at, direction, case_id, author)",
        "CREATE INDEX cases_desk_opened ON cases(desk_id, opened_at)",
        "CREATE INDEX cases_desk_closed ON cases(desk_id, closed_at)",
        // Reply templates, sealed under keys/vault-box.key (FORMAT.md §23).
        """
        CREATE TABLE desk_templates (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            box BLOB NOT NULL CHECK (length(box) > 40),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX desk_templates_desk ON desk_templates(desk_id, created_at)",
        // Automatic messages: the settings sealed under keys/vault-box.key, each trigger claimed once (case, kind,
        // trigger key: the follow event, the closed period, the waiting spell), and busy messages prepared at ingest
        // (sealed to the relay key) until the periodic check sends or drops them.
        """
        CREATE TABLE desk_auto_replies (
            desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
            box BLOB NOT NULL CHECK (length(box) > 40),
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE auto_replies_sent (
            case_id BLOB NOT NULL REFERENCES cases(id),
            kind TEXT NOT NULL CHECK (kind IN ('welcome', 'out_of_hours', 'busy')),
            trigger_key TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            PRIMARY KEY (case_id, kind, trigger_key)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE auto_busy_pending (
            case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
            spell INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            text BLOB NOT NULL,
            box BLOB NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX auto_busy_pending_due ON auto_busy_pending(due_at)",
        // Reopen events (routing reopened a closed case), for the statistics' `reopened_cases`.
        """
        CREATE TABLE case_reopens (
            case_id BLOB NOT NULL REFERENCES cases(id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            reopened_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX case_reopens_desk ON case_reopens(desk_id, reopened_at)",
        // A desk's reopen window, which decides routing (which case a message joins), so it is sealed under
        // keys/vault-box.key and bound to the desk: a database writer cannot set one (FORMAT.md §23).
        """
        CREATE TABLE desk_settings (
            desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
            reopen_box BLOB NOT NULL CHECK (length(reopen_box) > 40)
        ) WITHOUT ROWID
        """,
    ]
}
