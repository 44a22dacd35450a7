import Foundation
import GRDB

/// The one owner of deleting stored messages (an unsend under the `delete` policy, a retention purge): a message
/// row goes together with every row that hangs off it, children first, so no foreign key ever stops it and no
/// child is left behind. With secure_delete on, the freed pages are zeroed.
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

    /// The statements that clear a message's children, children first; `messages` is an SQL list of message ids
    /// taking one argument.
    private static func childStatements(messages ids: String) -> [String] {
        [
            "DELETE FROM content_chunks WHERE message_id IN (\(ids))",
            "DELETE FROM message_content WHERE message_id IN (\(ids))",
            "DELETE FROM outbox WHERE message_id IN (\(ids))",
            "UPDATE line_events SET message_id = NULL WHERE message_id IN (\(ids))",
        ]
    }
}
