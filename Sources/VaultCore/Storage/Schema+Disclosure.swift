extension VaultDatabase {
    /// Migration "v9-disclosure-packages" (issue 20): disclosure requests, their two-person decision, the package's
    /// hash and the auditor's review. `case_id` carries no foreign key so that purge's shredding of a case is not
    /// blocked by the record that it was once disclosed. The package itself is a file, `DIR/disclosures/{id}.age`
    /// (age ciphertext only), deleted at download or expiry.
    static let disclosureSchema: [String] = [
        """
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
        )
        """,
        "CREATE INDEX disclosures_desk ON disclosures(desk_id, requested_at)",
    ]
}
