import Foundation
import GRDB

/// The owner of the `messages` table: every statement that writes a stored message row, and every lookup other
/// features make, is here (the one other reader is the transcript's page cursor in Cases/Transcript.swift, which
/// reads the sealed bodies in bulk), so a second storage engine would implement this interface and that cursor.
///
/// Deleting (an unsend under the `delete` policy, a retention purge): a message row goes together with every row
/// that hangs off it, children first, so no foreign key ever stops it and no child is left behind. With
/// secure_delete on, the freed pages are zeroed.
///
/// The children of a message, as schema/schema.sql declares them: `content_chunks` and `message_content` (an
/// attachment), `outbox` (a reply waiting for or acknowledged by the relay) and `line_events` (the webhook event
/// that stored it). A `line_events` row is kept with its `message_id` cleared: LINE may redeliver the event, and
/// the row is what makes the redelivery a duplicate rather than a new message.
enum MessageStore {
    /// Deletes one message and its child rows, keeping the case's unread figures right: for an inbound message,
    /// one inbound row fewer in the case and one read fewer for each reader already past it (`case_reads`).
    /// - Returns: false when there was no such message.
    @discardableResult
    static func delete(_ db: Database, messageID: ID) throws -> Bool {
        let mid = Data(messageID.bytes)
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT case_id, seq, direction FROM messages WHERE id = ?", arguments: [mid])
        else { return false }
        for sql in childStatements(messages: "?") { try db.execute(sql: sql, arguments: [mid]) }
        try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [mid])
        if row["direction"] == "inbound" {
            let caseID: Data = row["case_id"]
            let seq: Int = row["seq"]
            try db.execute(sql: "UPDATE cases SET inbound_count = inbound_count - 1 WHERE id = ?", arguments: [caseID])
            try db.execute(
                sql: "UPDATE case_reads SET read_inbound = read_inbound - 1 WHERE case_id = ? AND last_seq >= ?",
                arguments: [caseID, seq])
        }
        return true
    }

    /// Deletes every message of a case and their child rows (the case itself is going: its counters are not
    /// kept up to date).
    /// - Returns: how many message rows went.
    @discardableResult
    static func deleteAll(_ db: Database, caseID: ID) throws -> Int {
        let cid = Data(caseID.bytes)
        for sql in childStatements(messages: "SELECT id FROM messages WHERE case_id = ?") {
            try db.execute(sql: sql, arguments: [cid])
        }
        try db.execute(sql: "DELETE FROM messages WHERE case_id = ?", arguments: [cid])
        return db.changesCount
    }

    /// Inserts a sealed message as the case's next seq and updates the case counters (message count, inbound
    /// count for the unread figures). `seq` may be passed by a caller that read the case in the same write;
    /// otherwise it is read here. (A wrong one fails on the UNIQUE (case_id, seq) key.)
    /// - Returns: the envelope hash stored with the row (for the write's access-log entry).
    @discardableResult
    /// A version 2 envelope stores its session's public key first (`sessionPublicKey`, once per session).
    static func insert(
        _ db: Database, _ e: Envelope, sessionPublicKey: [UInt8]? = nil, case c: CaseRow, externalID: String?,
        writtenBy: String, seq known: Int? = nil, now: Int64
    ) throws -> [UInt8] {
        let hash = e.hash
        if let sessionID = e.sessionID {
            guard let sessionPublicKey else { throw VaultError.integrity("a v2 envelope without its session key") }
            try SenderSessions.store(
                db, sessionID: sessionID, caseID: c.id, epochKeyID: e.epochKeyID, publicKey: sessionPublicKey, now: now)
        }
        guard
            let seq = try known
                ?? Int.fetchOne(
                    db.cachedStatement(sql: "SELECT message_count + 1 FROM cases WHERE id = ?"),
                    arguments: [Data(c.id.bytes)])
        else { throw VaultError.integrity("case vanished") }
        try db.cachedStatement(
            sql: """
                INSERT INTO messages (id, case_id, seq, desk_id, external_id, epoch_key_id, direction, kind, author, sent_at,
                    body, sealed_key, envelope_hash, written_by, created_at, session_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                Data(e.messageID.bytes), Data(c.id.bytes), seq, Data(c.deskID.bytes), externalID, Data(e.epochKeyID),
                e.direction, e.kind, e.author, e.sentAt, Data(e.body), Data(e.key), Data(hash), writtenBy, now,
                e.sessionID.map { Data($0) },
            ])
        let inbound = e.direction == "inbound"
        try db.cachedStatement(
            sql: """
                UPDATE cases SET message_count = ?, last_message_at = ?,
                    last_inbound_at = CASE WHEN ? THEN ? ELSE last_inbound_at END, inbound_count = inbound_count + ?
                WHERE id = ?
                """
        ).execute(
            arguments: [seq, now, inbound, now, inbound ? 1 : 0, Data(c.id.bytes)])
        return hash
    }

    /// The message stored under an external id (LINE's message id, the relay's idempotency key) on a desk.
    static func find(_ db: Database, deskID: ID, externalID: String) throws -> (
        id: ID, caseID: ID, envelopeHash: [UInt8]
    )? {
        let statement = try db.cachedStatement(
            sql: "SELECT id, case_id, envelope_hash FROM messages WHERE desk_id = ? AND external_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [Data(deskID.bytes), externalID]),
            let mid = ID(bytes: Array(row[0] as Data)), let cid = ID(bytes: Array(row[1] as Data))
        else { return nil }
        return (mid, cid, Array(row[2] as Data))
    }

    /// Whether a message id is taken.
    static func exists(_ db: Database, id: ID) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM messages WHERE id = ?", arguments: [Data(id.bytes)]) ?? false
    }

    /// Where a message lives and what it is (no content): its case, desk, kind and epoch key id.
    static func locate(_ db: Database, id: ID) throws -> (caseID: ID, deskID: ID, kind: String, epochKeyID: [UInt8])? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT case_id, desk_id, kind, epoch_key_id FROM messages WHERE id = ?",
                arguments: [Data(id.bytes)]),
            let caseID = ID(bytes: Array(row["case_id"] as Data)), let deskID = ID(bytes: Array(row["desk_id"] as Data))
        else { return nil }
        return (caseID, deskID, row["kind"], Array(row["epoch_key_id"] as Data))
    }

    /// Marks a message retracted (unsent by its author, `keep-marked` policy): it stays sealed and stored.
    static func retract(_ db: Database, id: ID) throws {
        try db.execute(sql: "UPDATE messages SET retracted = 1 WHERE id = ?", arguments: [Data(id.bytes)])
    }

    /// How many messages a case holds.
    static func count(_ db: Database, caseID: ID) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(caseID.bytes)])
            ?? 0
    }

    /// How many inbound messages of a case have a seq in `after+1 ... through`.
    static func countInbound(_ db: Database, caseID: ID, after: Int, through: Int) throws -> Int {
        try Int.fetchOne(
            db,
            sql: "SELECT count(*) FROM messages WHERE case_id = ? AND seq > ? AND seq <= ? AND direction = 'inbound'",
            arguments: [Data(caseID.bytes), after, through]) ?? 0
    }

    /// The statements that clear a message's children, children first; `messages` is an SQL list of message ids
    /// taking one argument.
    private static func childStatements(messages ids: String) -> [String] {
        [
            "DELETE FROM content_chunks WHERE message_id IN (\(ids))",
            "DELETE FROM message_content WHERE message_id IN (\(ids))",
            "DELETE FROM content_gone WHERE message_id IN (\(ids))",
            "DELETE FROM outbox WHERE message_id IN (\(ids))",
            "UPDATE line_events SET message_id = NULL WHERE message_id IN (\(ids))",
        ]
    }
}
