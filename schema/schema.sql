-- ConsultVault schema: golden snapshot of the migrated database (checked by StorageTests).
-- Regenerate with CONSULTVAULT_UPDATE_SCHEMA=1 swift test --filter StorageTests after adding a migration.

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
);

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
, state_mac BLOB);

CREATE TABLE audit_notes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'restore', 'purge')),
    seq INTEGER NOT NULL CHECK (seq >= 0),
    time INTEGER NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE audit_reviews (
    breakglass_seq INTEGER PRIMARY KEY NOT NULL REFERENCES access_log(seq),
    review_seq INTEGER NOT NULL UNIQUE REFERENCES access_log(seq),
    reviewer TEXT NOT NULL,
    reviewed_at INTEGER NOT NULL
, state_mac BLOB);

CREATE TABLE auditor_keys (
    key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    signature BLOB NOT NULL CHECK (length(signature) = 64),
    created_at INTEGER NOT NULL
);

CREATE TABLE auto_busy_pending (
    case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
    spell INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    text BLOB NOT NULL,
    box BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE auto_replies_sent (
    case_id BLOB NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL CHECK (kind IN ('welcome', 'out_of_hours', 'busy')),
    trigger_key TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (case_id, kind, trigger_key)
) WITHOUT ROWID;

CREATE TABLE case_epochs (
    key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
    case_id BLOB NOT NULL REFERENCES cases(id),
    epoch INTEGER NOT NULL,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    signature BLOB NOT NULL CHECK (length(signature) = 64),
    created_at INTEGER NOT NULL,
    UNIQUE (case_id, epoch)
);

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
, state_mac BLOB);

CREATE TABLE case_keyword_flags (
    case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
    flagged_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE case_reads (
    user_id BLOB NOT NULL REFERENCES users(id),
    case_id BLOB NOT NULL REFERENCES cases(id),
    last_seq INTEGER NOT NULL, read_inbound INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, case_id)
) WITHOUT ROWID;

CREATE TABLE case_record_codes (
    case_id BLOB NOT NULL REFERENCES case_records(case_id),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    kind TEXT NOT NULL CHECK (kind IN ('category', 'referral')),
    code TEXT NOT NULL,
    PRIMARY KEY (case_id, kind, code)
);

CREATE TABLE case_records (
    case_id BLOB PRIMARY KEY NOT NULL REFERENCES cases(id),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    age_band TEXT,
    gender TEXT,
    outcome TEXT,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE case_reopens (
    case_id BLOB NOT NULL REFERENCES cases(id),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    reopened_at INTEGER NOT NULL
);

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
, routing_key BLOB, inbound_count INTEGER NOT NULL DEFAULT 0, state_mac BLOB);

CREATE TABLE content_chunks (
    message_id BLOB NOT NULL REFERENCES message_content(message_id),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    data BLOB NOT NULL,
    PRIMARY KEY (message_id, idx)
) WITHOUT ROWID;

CREATE TABLE content_gone (
    message_id BLOB PRIMARY KEY NOT NULL CHECK (length(message_id) = 16),
    marked_by TEXT NOT NULL,
    marked_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE desk_auto_replies (
    desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
    box BLOB NOT NULL CHECK (length(box) > 40),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE desk_keys (
    key_id BLOB PRIMARY KEY NOT NULL CHECK (length(key_id) = 16),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    kind TEXT NOT NULL CHECK (kind IN ('queue', 'oversight')),
    generation INTEGER NOT NULL,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    created_at INTEGER NOT NULL,
    UNIQUE (desk_id, kind, generation)
);

CREATE TABLE desk_manifests (
    desk_id BLOB NOT NULL REFERENCES desks(id),
    version INTEGER NOT NULL,
    body BLOB NOT NULL,
    signer TEXT NOT NULL,
    signature BLOB NOT NULL CHECK (length(signature) = 64),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (desk_id, version)
);

CREATE TABLE desk_members (
    desk_id BLOB NOT NULL REFERENCES desks(id),
    user_id BLOB NOT NULL REFERENCES users(id),
    state TEXT NOT NULL CHECK (state IN ('invited', 'confirmed')),
    invited_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    confirmed_by TEXT,
    PRIMARY KEY (desk_id, user_id)
);

CREATE TABLE desk_settings (
    desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
    reopen_box BLOB NOT NULL CHECK (length(reopen_box) > 40)
) WITHOUT ROWID;

CREATE TABLE desk_taxonomies (
    desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
    body TEXT NOT NULL CHECK (json_valid(body)),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE desk_templates (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    box BLOB NOT NULL CHECK (length(box) > 40),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE desk_triage (
    desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
    keywords_box BLOB NOT NULL CHECK (length(keywords_box) > 40),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE desks (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name TEXT NOT NULL UNIQUE,
    recovery_public BLOB NOT NULL CHECK (length(recovery_public) = 32),
    retention_days INTEGER NOT NULL CHECK (retention_days >= 0),
    manifest_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL
, pending_retention_days INTEGER CHECK (pending_retention_days IS NULL OR pending_retention_days >= 0), unsend_policy TEXT NOT NULL DEFAULT 'keep-marked' CHECK (unsend_policy IN ('keep-marked', 'delete')), state_mac BLOB, recovery_vouched_by TEXT);

CREATE TABLE disclosures (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    case_id BLOB NOT NULL CHECK (length(case_id) = 16),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    requester_id BLOB NOT NULL REFERENCES users(id),
    recipient TEXT NOT NULL CHECK (recipient LIKE 'age1%'),
    recipient_name TEXT NOT NULL,
    reason_sealed BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined', 'downloaded', 'expired')),
    requested_at INTEGER NOT NULL,
    request_seq INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    package_sha256 BLOB,
    package_size INTEGER,
    downloaded_at INTEGER,
    reviewer TEXT,
    reviewed_at INTEGER,
    review_seq INTEGER
);

CREATE TABLE key_wraps (
    id INTEGER PRIMARY KEY,
    key_id BLOB NOT NULL CHECK (length(key_id) = 16),
    recipient_key_id BLOB NOT NULL CHECK (length(recipient_key_id) = 16),
    label TEXT NOT NULL,
    sealed BLOB NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (key_id, recipient_key_id)
);

CREATE TABLE line_channels (
    desk_id BLOB PRIMARY KEY NOT NULL REFERENCES desks(id),
    secret_box BLOB NOT NULL CHECK (length(secret_box) > 40),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE line_events (
    desk_id BLOB NOT NULL REFERENCES desks(id),
    webhook_event_id TEXT NOT NULL,
    message_id BLOB REFERENCES messages(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (desk_id, webhook_event_id)
) WITHOUT ROWID;

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
, session_id BLOB REFERENCES sender_sessions(id)) WITHOUT ROWID;

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
    retracted INTEGER NOT NULL DEFAULT 0 CHECK (retracted IN (0, 1)), session_id BLOB REFERENCES sender_sessions(id),
    UNIQUE (case_id, seq)
);

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
);

CREATE TABLE relay_token_desks (
    token_id BLOB NOT NULL REFERENCES relay_tokens(id),
    desk_id BLOB NOT NULL REFERENCES desks(id),
    PRIMARY KEY (token_id, desk_id)
) WITHOUT ROWID;

CREATE TABLE relay_tokens (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name TEXT NOT NULL UNIQUE,
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
, state_mac BLOB);

CREATE TABLE rotation_jobs (
    id INTEGER PRIMARY KEY,
    desk_id BLOB NOT NULL REFERENCES desks(id),
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    done_at INTEGER
);

CREATE TABLE sender_sessions (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    case_id BLOB NOT NULL REFERENCES cases(id),
    epoch_key_id BLOB NOT NULL REFERENCES case_epochs(key_id),
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

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
    enrolled_at INTEGER, state_mac BLOB,
    CHECK (state = 'pending' OR (box_public IS NOT NULL AND sign_public IS NOT NULL AND attestation IS NOT NULL
        AND wrapped_keys IS NOT NULL AND kdf_salt IS NOT NULL))
);

CREATE TABLE vault_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE INDEX access_log_action ON access_log(action, seq);

CREATE INDEX access_requests_desk ON access_requests(desk_id, state);

CREATE INDEX audit_notes_seq ON audit_notes(seq);

CREATE INDEX auto_busy_pending_due ON auto_busy_pending(due_at);

CREATE INDEX case_grants_expiry ON case_grants(expired, expires_at);

CREATE INDEX case_grants_live ON case_grants(case_id, user_id, expired);

CREATE INDEX case_record_codes_desk ON case_record_codes(desk_id, kind, code);

CREATE INDEX case_records_desk ON case_records(desk_id);

CREATE INDEX case_reopens_desk ON case_reopens(desk_id, reopened_at);

CREATE INDEX cases_activity ON cases(desk_id, last_message_at DESC, id DESC);

CREATE INDEX cases_closed ON cases(status, closed_at);

CREATE INDEX cases_desk_closed ON cases(desk_id, closed_at);

CREATE INDEX cases_desk_opened ON cases(desk_id, opened_at);

CREATE INDEX cases_routing ON cases(desk_id, routing_id, status);

CREATE INDEX desk_templates_desk ON desk_templates(desk_id, created_at);

CREATE INDEX disclosures_desk ON disclosures(desk_id, requested_at);

CREATE INDEX key_wraps_recipient ON key_wraps(recipient_key_id);

CREATE INDEX messages_desk_time ON messages(desk_id, sent_at, direction, case_id, author);

CREATE UNIQUE INDEX messages_external ON messages(desk_id, external_id) WHERE external_id IS NOT NULL;

CREATE INDEX outbox_pending ON outbox(desk_id, status, created_at);

CREATE INDEX rotation_jobs_pending ON rotation_jobs(done_at) WHERE done_at IS NULL;

CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;

CREATE TRIGGER access_log_append_only_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;

CREATE TRIGGER audit_notes_append_only_delete BEFORE DELETE ON audit_notes
BEGIN SELECT RAISE(ABORT, 'audit_notes is append-only'); END;

CREATE TRIGGER audit_notes_append_only_update BEFORE UPDATE ON audit_notes
BEGIN SELECT RAISE(ABORT, 'audit_notes is append-only'); END;

CREATE TRIGGER desk_manifests_append_only_delete BEFORE DELETE ON desk_manifests
BEGIN SELECT RAISE(ABORT, 'desk_manifests is append-only'); END;

CREATE TRIGGER desk_manifests_append_only_update BEFORE UPDATE ON desk_manifests
BEGIN SELECT RAISE(ABORT, 'desk_manifests is append-only'); END;
