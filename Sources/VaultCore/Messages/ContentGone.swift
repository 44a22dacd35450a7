import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Migration "v9-relay-content-gone": media the relay could no longer fetch from LINE (its content expired).
    /// The message stays; its content is shown as not available, and no upload is accepted for it afterwards.
    static let contentGoneSchema: [String] = [
        """
        CREATE TABLE content_gone (
            message_id BLOB PRIMARY KEY NOT NULL CHECK (length(message_id) = 16),
            marked_by TEXT NOT NULL,
            marked_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """
    ]

    /// The relay marks a `content_pending` media message of one of its desks as having no content (LINE's content
    /// API answered 404 or 410): recorded as `relay.write` on `content:<id> gone`. A repeat is harmless (the relay
    /// may retry after a lost answer): it changes nothing and is recorded again.
    /// - Throws: `.notFound` for an unknown message; `.forbidden` (recorded) for another desk's; `.conflict` for a
    ///   message that is not media or whose content is stored or being stored.
    public func markContentGone(messageID: ID, relay: RelayPrincipal, requestID: String) async throws {
        let caller = relay.caller(requestID: requestID)
        let target = "content:\(messageID) gone"
        let outcome: Result<Void, VaultError> = try await database.batched { db in
            try self.assertRelayLive(db, relay)
            guard let (_, deskID, kind, _) = try MessageStore.locate(db, id: messageID) else {
                throw VaultError.notFound("no message \(messageID)")
            }
            if case .denied(let e) = self.relayCovers(relay, deskID: deskID, deskName: nil) {
                return try self.refuse(db, caller, "relay.write", target, e)
            }
            guard Self.mediaKinds.contains(kind) else {
                throw VaultError.conflict("message \(messageID) is not an image, video, audio or file message")
            }
            if try Self.contentState(db, messageID) != nil {
                throw VaultError.conflict("the content of message \(messageID) is stored or being uploaded")
            }
            try db.execute(
                sql: "INSERT OR IGNORE INTO content_gone (message_id, marked_by, marked_at) VALUES (?, ?, ?)",
                arguments: [Data(messageID.bytes), "relay:\(relay.name)", self.now()])
            try self.record(db, caller, "relay.write", target)
            return .success(())
        }
        try outcome.get()
    }

    /// Whether the relay marked the message's content gone.
    static func isContentGone(_ db: Database, _ messageID: ID) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT 1 FROM content_gone WHERE message_id = ?", arguments: [Data(messageID.bytes)]) ?? false
    }

    static func contentState(_ db: Database, _ messageID: ID) throws -> String? {
        try String.fetchOne(
            db, sql: "SELECT state FROM message_content WHERE message_id = ?", arguments: [Data(messageID.bytes)])
    }
}
