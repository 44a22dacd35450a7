import Foundation
import GRDB

extension Vault {
    /// The most a relay gets in one `pendingContent` answer.
    public static let pendingContentLimit = 500

    /// A desk's LINE media messages still waiting for their bytes — neither stored complete nor marked gone — oldest
    /// first, at most `pendingContentLimit`: what a relay fetches again after a restart lost its queue (the same
    /// items a webhook answer's `content_pending` lists; ids only, nothing readable).
    /// - Throws: `.notFound` for an unknown desk; `.forbidden` (recorded) for a desk the token does not cover.
    public func pendingContent(desk name: String, relay: RelayPrincipal, requestID: String) async throws
        -> [PendingContent]
    {
        let caller = relay.caller(requestID: requestID)
        let (decision, items) = try await database.read { db -> (Decision, [PendingContent]) in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let decision = try self.relayMayWrite(db, relay, deskID: desk.id, deskName: name)
            guard case .allowed = decision else { return (decision, []) }
            // External ids of LINE messages are `line:{LINE message id}` (LineWebhook.swift); the range keeps the
            // scan on the `messages_external` index.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.external_id FROM messages m
                    WHERE m.desk_id = ? AND m.external_id >= 'line:' AND m.external_id < 'line;'
                        AND m.kind IN ('image', 'video', 'audio', 'file') AND m.retracted = 0
                        AND NOT EXISTS (SELECT 1 FROM message_content c WHERE c.message_id = m.id AND c.state = 'complete')
                        AND NOT EXISTS (SELECT 1 FROM content_gone g WHERE g.message_id = m.id)
                    ORDER BY m.sent_at, m.id LIMIT ?
                    """, arguments: [Data(desk.id.bytes), Self.pendingContentLimit])
            return (
                decision,
                rows.compactMap { row in
                    guard let raw = row[0] as Data?, let id = ID(bytes: Array(raw)), let ext = row[1] as String?
                    else { return nil }
                    return PendingContent(lineMessageID: String(ext.dropFirst("line:".count)), messageID: id)
                }
            )
        }
        try await enforce(decision, caller, "relay.content_pending", "desk:\(name)")
        return items
    }
}
