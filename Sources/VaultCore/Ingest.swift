import Foundation
import GRDB
import VaultCrypto

/// A plain-text inbound message from the relay (API.md `POST /v1/messages`).
public struct InboundText: Sendable {
    public var desk: String
    public var channel: String
    public var channelUser: String
    public var externalID: String
    public var sentAt: Int64
    public var text: String

    public init(desk: String, channel: String, channelUser: String, externalID: String, sentAt: Int64, text: String) {
        self.desk = desk
        self.channel = channel
        self.channelUser = channelUser
        self.externalID = externalID
        self.sentAt = sentAt
        self.text = text
    }
}

/// What an ingest answers: ids, and whether it was a redelivery.
public struct IngestResult: Sendable, Equatable {
    public let messageID: ID
    public let caseID: ID
    public let duplicate: Bool
}

extension Vault {
    /// Stores one inbound text durably: routes it to the user's case (opening one with a queue-readable
    /// epoch 0 if needed), seals it in the envelope, and records the write with the envelope hash, all in
    /// one transaction. Idempotent on (desk, external id).
    /// - Throws: `.forbidden` when the token does not cover the desk, `.notFound` for an unknown desk.
    public func ingest(_ m: InboundText, relay: RelayPrincipal, requestID: String) async throws -> IngestResult {
        let caller = relay.caller(requestID: requestID)
        guard m.channel == "line" else { throw VaultError.invalid("channel must be \"line\"") }
        enum Outcome: Sendable {
            case stored(IngestResult)
            case denied(VaultError)
        }
        let outcome: Outcome = try await database.transaction { db in
            guard let desk = try self.desk(db, name: m.desk) else { throw VaultError.notFound("no desk \(m.desk)") }
            guard relay.deskIDs.contains(desk.id) else {
                try self.record(db, caller, "relay.write", "desk:\(m.desk)", .denied)
                return .denied(.forbidden("this relay token is not issued for desk \(m.desk)"))
            }
            if let dup = try Row.fetchOne(
                db, sql: "SELECT id, case_id FROM messages WHERE desk_id = ? AND external_id = ?",
                arguments: [Data(desk.id.bytes), m.externalID]),
                let mid = ID(bytes: Array(dup["id"] as Data)), let cid = ID(bytes: Array(dup["case_id"] as Data))
            {
                return .stored(IngestResult(messageID: mid, caseID: cid, duplicate: true))
            }
            let c = try self.routeCase(db, desk: desk, channelUser: m.channelUser)
            let epoch = try self.epochKey(db, case: c, epoch: c.currentEpoch)
            let messageID = ID.v7(milliseconds: self.now())
            var plaintext = try JSONSerialization.data(withJSONObject: ["text": m.text], options: [.sortedKeys]).map {
                $0
            }
            defer { SecretBytes.wipe(&plaintext) }
            let envelope = try Envelope.seal(
                plaintext: plaintext, messageID: messageID, caseID: c.id, epochPublicKey: epoch.publicKey,
                direction: "inbound", kind: "text", author: "channel", sentAt: m.sentAt)
            try self.insertMessage(db, envelope, case: c, externalID: m.externalID, writtenBy: "relay:\(relay.name)")
            try self.record(db, caller, "relay.write", "message:\(messageID)", envelopeHash: envelope.hash)
            return .stored(IngestResult(messageID: messageID, caseID: c.id, duplicate: false))
        }
        switch outcome {
        case .stored(let r): return r
        case .denied(let e): throw e
        }
    }

    /// The open case of this channel user on this desk; reopens one closed within the reopen window;
    /// otherwise opens a new case whose epoch 0 is sealed to the queue and oversight keys.
    func routeCase(_ db: Database, desk: DeskState, channelUser: String) throws -> CaseRow {
        let routing = try Hashing.keyedBlake2b(
            Canonical.encode([desk.id.bytes, Array(channelUser.utf8)]), key: keys.pseudonym)
        if let row = try Row.fetchOne(
            db,
            sql: """
                SELECT * FROM cases WHERE desk_id = ? AND routing_id = ? AND (status = 'open' OR closed_at >= ?)
                ORDER BY status = 'open' DESC, opened_at DESC LIMIT 1
                """,
            arguments: [Data(desk.id.bytes), Data(routing), now() - settings.reopenWindowDays * 86_400_000])
        {
            var c = try CaseRow(row: row)
            if c.status == "closed" {
                try db.execute(
                    sql: "UPDATE cases SET status = 'open', closed_at = NULL WHERE id = ?",
                    arguments: [Data(c.id.bytes)])
                c.status = "open"
            }
            return c
        }
        let caseID = ID.v7(milliseconds: now())
        let epoch0 = try BoxKeyPair.generate()
        let signature = keys.signing.sign(
            EpochKey.signedMessage(deskID: desk.id, caseID: caseID, epoch: 0, publicKey: epoch0.publicKey))
        let sealedUser = { (pk: [UInt8]) throws -> [UInt8] in
            try SealedBox.seal(
                Canonical.encode([
                    Array("consultvault/channel-user/v1".utf8), caseID.bytes, desk.id.bytes, Array(channelUser.utf8),
                ]), to: pk)
        }
        let now = now()
        try db.execute(
            sql: """
                INSERT INTO cases (id, desk_id, routing_id, status, opened_at, last_message_at, channel_user_oversight,
                    channel_user_case) VALUES (?, ?, ?, 'open', ?, ?, ?, ?)
                """,
            arguments: [
                Data(caseID.bytes), Data(desk.id.bytes), Data(routing), now, now,
                Data(try sealedUser(desk.manifest.oversightPublic)), Data(try sealedUser(epoch0.publicKey)),
            ])
        try db.execute(
            sql:
                "INSERT INTO case_epochs (key_id, case_id, epoch, public_key, signature, created_at) VALUES (?, ?, 0, ?, ?, ?)",
            arguments: [Data(epoch0.keyID), Data(caseID.bytes), Data(epoch0.publicKey), Data(signature), now])
        guard let c = try CaseRow.find(db, id: caseID) else { throw VaultError.integrity("new case vanished") }
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.queuePublic)
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.oversightPublic)
        return c
    }

    /// Inserts a sealed message as the case's next seq and updates the case counters.
    func insertMessage(_ db: Database, _ e: Envelope, case c: CaseRow, externalID: String?, writtenBy: String) throws {
        guard
            let seq = try Int.fetchOne(
                db, sql: "SELECT message_count + 1 FROM cases WHERE id = ?", arguments: [Data(c.id.bytes)])
        else { throw VaultError.integrity("case vanished") }
        try db.execute(
            sql: """
                INSERT INTO messages (id, case_id, seq, desk_id, external_id, epoch_key_id, direction, kind, author, sent_at,
                    body, sealed_key, envelope_hash, written_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(e.messageID.bytes), Data(c.id.bytes), seq, Data(c.deskID.bytes), externalID, Data(e.epochKeyID),
                e.direction, e.kind, e.author, e.sentAt, Data(e.body), Data(e.key), Data(e.hash), writtenBy, now(),
            ])
        let inbound = e.direction == "inbound"
        try db.execute(
            sql: """
                UPDATE cases SET message_count = ?, last_message_at = ?,
                    last_inbound_at = CASE WHEN ? THEN ? ELSE last_inbound_at END WHERE id = ?
                """,
            arguments: [seq, now(), inbound, now(), Data(c.id.bytes)])
    }
}
