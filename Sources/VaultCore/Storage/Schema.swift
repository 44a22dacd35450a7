import GRDB

extension VaultDatabase {
    /// Named, append-only migrations, declared in the order of their names (an existing vault has applied all of
    /// v1–v3 already, so the order only matters for a new one, and the three v2 steps and v3 touch different
    /// tables: the result is the same). schema/schema.sql is the golden snapshot of their result.
    static var migrator: DatabaseMigrator { migrator(stateMAC: nil) }

    /// The migrator; `stateMAC` authenticates existing rows when v7 adds their MACs.
    static func migrator(stateMAC: StateMAC?) -> DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-foundation") { db in
            for statement in foundationSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v2-workflow") { db in
            for statement in workflowSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v2-audit") { db in
            for statement in auditSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v2-relay") { db in
            for statement in relaySchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v3-retention") { db in
            for statement in retentionSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v4-pseudonym-rotation") { db in
            // Which pseudonym key made a case's routing id (NULL: the vault's first key).
            try db.execute(sql: "ALTER TABLE cases ADD COLUMN routing_key BLOB")
        }
        m.registerMigration("v5-unread-index") { db in
            // The case list counts each case's unread inbound messages; without this index every count read the
            // table row of every message after the reader's position (a soak showed the list's cost growing with
            // case size). With it the count reads index entries only (a covering index: SQLite 3.40 does not treat a
            // partial index on direction = 'inbound' as covering).
            try db.execute(sql: "CREATE INDEX messages_case_direction ON messages(case_id, direction, seq)")
        }
        m.registerMigration("v6-unread-counters") { db in
            // Unread counts from two counters instead of that index: every message insert dirtied a leaf of it per
            // case (a third of the WAL pages the relay's ingest wrote). `cases.inbound_count` counts the case's
            // stored inbound messages; `case_reads.read_inbound` those at or before the reader's `last_seq`.
            for statement in unreadCounterSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v7-state-macs") { db in try stateMACSchema(db, stateMAC: stateMAC) }
        m.registerMigration("v8-user-macs") { db in try userMACSchema(db, stateMAC: stateMAC) }
        m.registerMigration("v9-sender-sessions") { db in
            // Envelope v2 (schema/FORMAT.md §1.8): each sender session's public key, stored once; messages and
            // attachment keys of version 2 name their session (NULL: version 1).
            for statement in senderSessionSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v9-relay-content-gone") { db in
            for statement in Vault.contentGoneSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v9-disclosure-packages") { db in
            for statement in disclosureSchema { try db.execute(sql: statement) }
        }
        m.registerMigration("v9-records-triage") { db in
            for statement in recordsSchema { try db.execute(sql: statement) }
        }
        return m
    }

    /// v6: the counters the case list's unread count reads, filled from the stored messages, and the index they
    /// replace dropped.
    static let unreadCounterSchema: [String] =
        [
            "ALTER TABLE cases ADD COLUMN inbound_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE case_reads ADD COLUMN read_inbound INTEGER NOT NULL DEFAULT 0",
        ] + unreadCounterBackfill + ["DROP INDEX messages_case_direction"]

    /// Recomputes both unread counters from the message rows (the v6 migration; tests compare with it).
    static let unreadCounterBackfill: [String] = [
        """
        UPDATE cases SET inbound_count =
            (SELECT count(*) FROM messages m WHERE m.case_id = cases.id AND m.direction = 'inbound')
        """,
        """
        UPDATE case_reads SET read_inbound = (SELECT count(*) FROM messages m
            WHERE m.case_id = case_reads.case_id AND m.direction = 'inbound' AND m.seq <= case_reads.last_seq)
        """,
    ]

    /// LINE channel secrets, webhook dedupe, streamed attachments, the reply outbox (schema/FORMAT.md §11–§14).
    static let relaySchema: [String] = [
        """
        CREATE TABLE line_channels (
            desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
            secret_box BLOB NOT NULL CHECK (length(secret_box) > 40),
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE line_events (
            desk_id BLOB NOT NULL REFERENCES desks(id),
            webhook_event_id TEXT NOT NULL,
            message_id BLOB REFERENCES messages(id),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (desk_id, webhook_event_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE message_content (
            message_id BLOB PRIMARY KEY NOT NULL REFERENCES messages(id),
            state TEXT NOT NULL CHECK (state IN ('writing', 'complete')),
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size >= 0),
            chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),
            chunk_count INTEGER NOT NULL CHECK (chunk_count >= 0),
            epoch_key_id BLOB NOT NULL REFERENCES case_epochs(key_id),
            sealed_key BLOB NOT NULL,
            header BLOB NOT NULL CHECK (length(header) = 24),
            written_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            completed_at INTEGER
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE content_chunks (
            message_id BLOB NOT NULL REFERENCES message_content(message_id),
            idx INTEGER NOT NULL CHECK (idx >= 0),
            data BLOB NOT NULL,
            PRIMARY KEY (message_id, idx)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE outbox (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            message_id BLOB NOT NULL UNIQUE REFERENCES messages(id),
            case_id BLOB NOT NULL REFERENCES cases(id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            relay_key_id BLOB NOT NULL CHECK (length(relay_key_id) = 16),
            box BLOB NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            lease_holder TEXT,
            lease_until INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            detail TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX outbox_pending ON outbox(desk_id, status, created_at)",
    ]

    static let foundationSchema: [String] = [
        """
        CREATE TABLE vault_meta (
            key TEXT PRIMARY KEY NOT NULL,
            value BLOB NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE users (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            username TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('counselor', 'supervisor', 'auditor', 'admin')),
            state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'disabled')),
            enroll_code_hash BLOB CHECK (enroll_code_hash IS NULL OR length(enroll_code_hash) = 32),
            enroll_expires_at INTEGER,
            box_public BLOB CHECK (box_public IS NULL OR length(box_public) = 32),
            sign_public BLOB CHECK (sign_public IS NULL OR length(sign_public) = 32),
            attestation BLOB CHECK (attestation IS NULL OR length(attestation) = 64),
            wrapped_keys BLOB,
            kdf_salt BLOB,
            kdf_ops INTEGER,
            kdf_mem INTEGER,
            created_at INTEGER NOT NULL,
            enrolled_at INTEGER,
            CHECK (state = 'pending' OR (box_public IS NOT NULL AND sign_public IS NOT NULL AND attestation IS NOT NULL
                AND wrapped_keys IS NOT NULL AND kdf_salt IS NOT NULL))
        )
        """,
        """
        CREATE TABLE auditor_keys (
            key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
            public_key BLOB NOT NULL CHECK (length(public_key) = 32),
            signature BLOB NOT NULL CHECK (length(signature) = 64),
            created_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE desks (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            name TEXT NOT NULL UNIQUE,
            recovery_public BLOB NOT NULL CHECK (length(recovery_public) = 32),
            retention_days INTEGER NOT NULL CHECK (retention_days >= 0),
            manifest_version INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE desk_keys (
            key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            kind TEXT NOT NULL CHECK (kind IN ('queue', 'oversight')),
            generation INTEGER NOT NULL,
            public_key BLOB NOT NULL CHECK (length(public_key) = 32),
            created_at INTEGER NOT NULL,
            UNIQUE (desk_id, kind, generation)
        )
        """,
        """
        CREATE TABLE desk_manifests (
            desk_id BLOB NOT NULL REFERENCES desks(id),
            version INTEGER NOT NULL,
            body BLOB NOT NULL,
            signer TEXT NOT NULL,
            signature BLOB NOT NULL CHECK (length(signature) = 64),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (desk_id, version)
        )
        """,
        """
        CREATE TABLE desk_members (
            desk_id BLOB NOT NULL REFERENCES desks(id),
            user_id BLOB NOT NULL REFERENCES users(id),
            state TEXT NOT NULL CHECK (state IN ('invited', 'confirmed')),
            invited_at INTEGER NOT NULL,
            confirmed_at INTEGER,
            confirmed_by TEXT,
            PRIMARY KEY (desk_id, user_id)
        )
        """,
        """
        CREATE TABLE key_wraps (
            id INTEGER PRIMARY KEY,
            key_id BLOB NOT NULL CHECK (length(key_id) = 16),
            recipient_key_id BLOB NOT NULL CHECK (length(recipient_key_id) = 16),
            label TEXT NOT NULL,
            sealed BLOB NOT NULL,
            expires_at INTEGER,
            created_at INTEGER NOT NULL,
            UNIQUE (key_id, recipient_key_id)
        )
        """,
        "CREATE INDEX key_wraps_recipient ON key_wraps(recipient_key_id)",
        """
        CREATE TABLE cases (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            routing_id BLOB NOT NULL CHECK (length(routing_id) = 32),
            status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
            risk TEXT NOT NULL DEFAULT 'none' CHECK (risk IN ('none', 'low', 'medium', 'high', 'imminent')),
            hold INTEGER NOT NULL DEFAULT 0 CHECK (hold IN (0, 1)),
            assignee_id BLOB REFERENCES users(id),
            current_epoch INTEGER NOT NULL DEFAULT 0,
            message_count INTEGER NOT NULL DEFAULT 0,
            opened_at INTEGER NOT NULL,
            closed_at INTEGER,
            last_message_at INTEGER NOT NULL,
            last_inbound_at INTEGER,
            channel_user_oversight BLOB NOT NULL,
            channel_user_case BLOB NOT NULL
        )
        """,
        "CREATE INDEX cases_routing ON cases(desk_id, routing_id, status)",
        "CREATE INDEX cases_activity ON cases(desk_id, last_message_at DESC, id DESC)",
        """
        CREATE TABLE case_epochs (
            key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
            case_id BLOB NOT NULL REFERENCES cases(id),
            epoch INTEGER NOT NULL,
            public_key BLOB NOT NULL CHECK (length(public_key) = 32),
            signature BLOB NOT NULL CHECK (length(signature) = 64),
            created_at INTEGER NOT NULL,
            UNIQUE (case_id, epoch)
        )
        """,
        """
        CREATE TABLE messages (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            case_id BLOB NOT NULL REFERENCES cases(id),
            seq INTEGER NOT NULL,
            desk_id BLOB NOT NULL REFERENCES desks(id),
            external_id TEXT,
            epoch_key_id BLOB NOT NULL REFERENCES case_epochs(key_id),
            direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note', 'event')),
            kind TEXT NOT NULL,
            author TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            body BLOB NOT NULL,
            sealed_key BLOB NOT NULL,
            envelope_hash BLOB NOT NULL CHECK (length(envelope_hash) = 32),
            written_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            retracted INTEGER NOT NULL DEFAULT 0 CHECK (retracted IN (0, 1)),
            UNIQUE (case_id, seq)
        )
        """,
        "CREATE UNIQUE INDEX messages_external ON messages(desk_id, external_id) WHERE external_id IS NOT NULL",
        """
        CREATE TABLE case_reads (
            user_id BLOB NOT NULL REFERENCES users(id),
            case_id BLOB NOT NULL REFERENCES cases(id),
            last_seq INTEGER NOT NULL,
            PRIMARY KEY (user_id, case_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE relay_tokens (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            name TEXT NOT NULL UNIQUE,
            token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        )
        """,
        """
        CREATE TABLE relay_token_desks (
            token_id BLOB NOT NULL REFERENCES relay_tokens(id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            PRIMARY KEY (token_id, desk_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE access_log (
            seq INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
            request_id TEXT NOT NULL,
            envelope_hash BLOB CHECK (envelope_hash IS NULL OR length(envelope_hash) = 32),
            reason_sealed BLOB,
            hash BLOB NOT NULL CHECK (length(hash) = 32)
        )
        """,
        """
        CREATE TRIGGER access_log_append_only_update BEFORE UPDATE ON access_log
        BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END
        """,
        """
        CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log
        BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END
        """,
    ]

    static let workflowSchema: [String] = [
        """
        CREATE TABLE rotation_jobs (
            id INTEGER PRIMARY KEY,
            desk_id BLOB NOT NULL REFERENCES desks(id),
            reason TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            done_at INTEGER
        )
        """,
        "CREATE INDEX rotation_jobs_pending ON rotation_jobs(done_at) WHERE done_at IS NULL",
        """
        CREATE TABLE access_requests (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            case_id BLOB NOT NULL REFERENCES cases(id),
            desk_id BLOB NOT NULL REFERENCES desks(id),
            requester_id BLOB NOT NULL REFERENCES users(id),
            reason_sealed BLOB NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined')),
            created_at INTEGER NOT NULL,
            decided_by TEXT,
            decided_at INTEGER
        )
        """,
        "CREATE INDEX access_requests_desk ON access_requests(desk_id, state)",
        """
        CREATE TABLE case_grants (
            id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
            case_id BLOB NOT NULL REFERENCES cases(id),
            user_id BLOB NOT NULL REFERENCES users(id),
            kind TEXT NOT NULL CHECK (kind IN ('request', 'breakglass')),
            request_id BLOB REFERENCES access_requests(id),
            audit_seq INTEGER,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            expired INTEGER NOT NULL DEFAULT 0 CHECK (expired IN (0, 1))
        )
        """,
        "CREATE INDEX case_grants_live ON case_grants(case_id, user_id, expired)",
        "CREATE INDEX case_grants_expiry ON case_grants(expired, expires_at)",
    ]

    static let retentionSchema: [String] = [
        "ALTER TABLE desks ADD COLUMN pending_retention_days INTEGER CHECK (pending_retention_days IS NULL OR pending_retention_days >= 0)",
        "ALTER TABLE desks ADD COLUMN unsend_policy TEXT NOT NULL DEFAULT 'keep-marked' CHECK (unsend_policy IN ('keep-marked', 'delete'))",
        "CREATE INDEX cases_closed ON cases(status, closed_at)",
    ]
}
