import GRDB

extension VaultDatabase {
    /// v9: sender sessions (envelope v2, schema/FORMAT.md §1.8): each session's public key, stored once; messages
    /// and attachment keys of version 2 name their session (NULL: version 1).
    static let senderSessionSchema: [String] = [
        """
        CREATE TABLE sender_sessions (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            case_id BLOB NOT NULL REFERENCES cases(id),
            epoch_key_id BLOB NOT NULL REFERENCES case_epochs(key_id),
            public_key BLOB NOT NULL CHECK (length(public_key) = 32),
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "ALTER TABLE messages ADD COLUMN session_id BLOB REFERENCES sender_sessions(id)",
        "ALTER TABLE message_content ADD COLUMN session_id BLOB REFERENCES sender_sessions(id)",
    ]
}
