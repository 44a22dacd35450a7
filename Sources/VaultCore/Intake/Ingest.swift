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

/// One inbound record from the relay, on any path (plain form, webhook event): routed by channel
/// user, deduplicated on `externalID` within the desk.
struct InboundItem: Sendable {
    var desk: String
    var channelUser: String
    var externalID: String?
    var direction = "inbound"
    var kind: String
    var sentAt: Int64
    var plaintext: [UInt8]
}

/// What an ingest prepares before the write transaction (from hints or a read snapshot): the verified desk and,
/// when the user already has a case, the envelope sealed to its current epoch's verified public key. The batch
/// uses the envelope only when that case, epoch and stored public key are still current; otherwise it seals again.
struct Prepared: Sendable {
    var desk: DeskState
    var sealed: (caseID: ID, epoch: Int, publicKey: [UInt8], envelope: Envelope)?
}

/// What one ingest write gives back: the stored (or already stored) message, or a recorded refusal.
typealias IngestOutcome = Result<IngestResult, VaultError>

extension Vault {
    /// Stores one inbound text durably: routes it to the user's case (opening one with a queue-readable
    /// epoch 0 if needed), seals it in the envelope, and records the write with the envelope hash, all in
    /// one transaction shared with concurrent ingests (group commit; answered only once durable).
    /// Idempotent on (desk, external id), also under concurrency.
    /// - Throws: `.forbidden` when the token does not cover the desk, `.notFound` for an unknown desk.
    public func ingest(_ m: InboundText, relay: RelayPrincipal, requestID: String) async throws -> IngestResult {
        guard m.channel == "line" else { throw VaultError.invalid("channel must be \"line\"") }
        var plaintext = Plaintext.text(m.text)
        defer { SecretBytes.wipe(&plaintext) }
        let item = InboundItem(
            desk: m.desk, channelUser: m.channelUser, externalID: m.externalID, kind: "text", sentAt: m.sentAt,
            plaintext: plaintext)
        return try await ingest(item, relay: relay, caller: relay.caller(requestID: requestID))
    }

    /// Seals outside the writer (in the request's task, in parallel with others), then stores in a batch.
    func ingest(_ item: InboundItem, relay: RelayPrincipal, caller: Caller) async throws -> IngestResult {
        let pre = try await prepare(item)
        return try await database.batched { db in
            try self.storeInbound(db, item, relay: relay, caller: caller, prepared: pre)
        }.get()
    }

    /// Loads the verified desk and seals `item` to the current epoch of its case (no envelope when there is no
    /// case yet or the item is a redelivery: the batch decides under the lock). The desk and the user's route come
    /// from `hints` when known, so the hot path touches no database connection; hints are only advice, checked
    /// again in the write transaction, which seals afresh when they were stale.
    /// - Throws: `.notFound` for an unknown desk.
    func prepare(_ item: InboundItem) async throws -> Prepared {
        let desk: DeskState
        if let known = hints.desk(item.desk) {
            desk = known
        } else {
            desk = try await database.read { db in
                guard let desk = try self.desk(db, name: item.desk) else {
                    throw VaultError.notFound("no desk \(item.desk)")
                }
                return desk
            }
            hints.remember(desk: desk)
        }
        let routing = try routingID(desk: desk.id, channelUser: item.channelUser)
        var route = hints.route(routing)
        if route == nil {
            route = try await database.read { db in
                if let external = item.externalID,
                    try self.findExternal(db, deskID: desk.id, externalID: external) != nil
                {
                    return nil
                }
                guard let c = try self.findRoutedCase(db, desk: desk, channelUser: item.channelUser) else { return nil }
                let epoch = try self.epochKey(db, case: c, epoch: c.currentEpoch)
                return (c.id, c.currentEpoch, epoch.publicKey)
            }
            // Remembered here too, not only when the write seals afresh: otherwise a case that existed before the
            // server started (no hint yet, and an envelope the write then accepts) took this read on every message.
            if let route { hints.remember(route: route, for: routing) }
        }
        guard let route else { return Prepared(desk: desk, sealed: nil) }
        let envelope = try Envelope.seal(
            plaintext: item.plaintext, messageID: ID.v7(milliseconds: now()), caseID: route.caseID,
            epochPublicKey: route.publicKey, direction: item.direction, kind: item.kind, author: "channel",
            sentAt: item.sentAt)
        return Prepared(desk: desk, sealed: (route.caseID, route.epoch, route.publicKey, envelope))
    }

    /// The pseudonymous routing id of a channel user on a desk (schema/FORMAT.md §7).
    func routingID(desk: ID, channelUser: String) throws -> [UInt8] {
        try Hashing.keyedBlake2b(Canonical.encode([desk.bytes, Array(channelUser.utf8)]), key: keys.pseudonym)
    }

    /// The write half of an ingest, inside a batch transaction: coverage check (a denial is recorded),
    /// redelivery check, routing, the message row and its access-log entry.
    func storeInbound(
        _ db: Database, _ item: InboundItem, relay: RelayPrincipal, caller: Caller, prepared: Prepared?
    ) throws -> IngestOutcome {
        // The whole manifest chain is checked again here (memoized by its stored bytes), so a desk hint can never
        // stand in for a manifest that changed or was tampered with; once per batch transaction, as no batched
        // write changes a desk.
        let memo = database.batchMemo
        let desk: DeskState
        if let known = memo?.desks[item.desk] {
            desk = known
        } else {
            guard let found = try self.desk(db, name: item.desk) else {
                throw VaultError.notFound("no desk \(item.desk)")
            }
            desk = found
            memo?.desks[item.desk] = found
        }
        if case .denied(let e) = try relayMayWrite(db, relay, deskID: desk.id, deskName: item.desk) {
            return try refuse(db, caller, "relay.write", "desk:\(item.desk)", e)
        }
        if let external = item.externalID, let dup = try findExternal(db, deskID: desk.id, externalID: external) {
            return .success(dup)
        }
        let c = try routeCase(db, desk: desk, channelUser: item.channelUser)
        let envelope: Envelope
        if let p = prepared?.sealed, p.caseID == c.id, p.epoch == c.currentEpoch,
            try epochPublicKey(db, case: c.id, epoch: c.currentEpoch) == p.publicKey
        {
            envelope = p.envelope
        } else {
            let epoch = try epochKey(db, case: c, epoch: c.currentEpoch)
            envelope = try Envelope.seal(
                plaintext: item.plaintext, messageID: ID.v7(milliseconds: now()), caseID: c.id,
                epochPublicKey: epoch.publicKey, direction: item.direction, kind: item.kind, author: "channel",
                sentAt: item.sentAt)
            hints.remember(
                route: (c.id, c.currentEpoch, epoch.publicKey),
                for: try routingID(desk: desk.id, channelUser: item.channelUser))
            hints.remember(desk: desk)
        }
        // `c` was read (or created) by routeCase in this very write, so its count is current.
        let hash = try insertMessage(
            db, envelope, case: c, externalID: item.externalID, writtenBy: "relay:\(relay.name)",
            seq: c.messageCount + 1)
        try record(db, caller, "relay.write", "message:\(envelope.messageID)", envelopeHash: hash)
        return .success(IngestResult(messageID: envelope.messageID, caseID: c.id, duplicate: false))
    }

    /// The stored public key of a case epoch (unverified: compared with an already verified key).
    func epochPublicKey(_ db: Database, case caseID: ID, epoch: Int) throws -> [UInt8]? {
        try Data.fetchOne(
            db.cachedStatement(sql: "SELECT public_key FROM case_epochs WHERE case_id = ? AND epoch = ?"),
            arguments: [Data(caseID.bytes), epoch]
        ).map { Array($0) }
    }

    /// The message already stored under this external id on the desk, as a duplicate result.
    func findExternal(_ db: Database, deskID: ID, externalID: String) throws -> IngestResult? {
        let statement = try db.cachedStatement(
            sql: "SELECT id, case_id FROM messages WHERE desk_id = ? AND external_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [Data(deskID.bytes), externalID]),
            let mid = ID(bytes: Array(row["id"] as Data)), let cid = ID(bytes: Array(row["case_id"] as Data))
        else { return nil }
        return IngestResult(messageID: mid, caseID: cid, duplicate: true)
    }

    /// The case a channel user's next message goes to, without changing anything: their open case, or the
    /// latest one closed within the reopen window.
    func findRoutedCase(_ db: Database, desk: DeskState, channelUser: String) throws -> CaseRow? {
        let routing = try routingID(desk: desk.id, channelUser: channelUser)
        // During a pseudonym rotation, a case not yet rehashed is found under the previous key.
        let rotating = try previousRoutingID(desk: desk.id, channelUser: channelUser)
        if rotating == nil {
            // The common case first, straight from the index (no sort): a user has at most one open case per desk,
            // as only routeCase opens or reopens one, and only when this lookup found none open.
            let open = try db.cachedStatement(
                sql: """
                    SELECT \(CaseRow.selection) FROM cases WHERE desk_id = ? AND routing_id = ? AND status = 'open'
                    LIMIT 1
                    """)
            if let row = try Row.fetchOne(open, arguments: [Data(desk.id.bytes), Data(routing)]) {
                return try CaseRow(selected: row, mac: stateMAC)
            }
        }
        let previous = rotating ?? routing
        let statement = try db.cachedStatement(
            sql: """
                SELECT \(CaseRow.selection) FROM cases
                WHERE desk_id = ? AND routing_id IN (?, ?) AND (status = 'open' OR closed_at >= ?)
                ORDER BY status = 'open' DESC, opened_at DESC LIMIT 1
                """)
        return try Row.fetchOne(
            statement,
            arguments: [
                Data(desk.id.bytes), Data(routing), Data(previous), now() - settings.reopenWindowDays * 86_400_000,
            ]
        ).map { try CaseRow(selected: $0, mac: stateMAC) }
    }

    /// The routing id under the previous pseudonym key, while a rotation is in progress.
    func previousRoutingID(desk: ID, channelUser: String) throws -> [UInt8]? {
        guard let key = keys.previousPseudonym else { return nil }
        return try Hashing.keyedBlake2b(Canonical.encode([desk.bytes, Array(channelUser.utf8)]), key: key)
    }

    /// The open case of this channel user on this desk; reopens one closed within the reopen window;
    /// otherwise opens a new case whose epoch 0 is sealed to the queue and oversight keys.
    /// `newCaseID` and `epoch0` fix the ids of a new case (known-answer tests only).
    func routeCase(
        _ db: Database, desk: DeskState, channelUser: String, newCaseID: ID? = nil, epoch0 fixedEpoch: BoxKeyPair? = nil
    ) throws -> CaseRow {
        if var c = try findRoutedCase(db, desk: desk, channelUser: channelUser) {
            var changed = false
            if keys.previousPseudonym != nil {
                // Moves the case to the current key as soon as its person writes again.
                c.routingID = try routingID(desk: desk.id, channelUser: channelUser)
                c.routingKey = VaultKeys.pseudonymKeyTag(keys.pseudonym)
                changed = true
            }
            if c.status == "closed" {
                c.status = "open"
                c.closedAt = nil
                changed = true
            }
            if changed { try saveCaseState(db, c) }
            return c
        }
        let routing = try routingID(desk: desk.id, channelUser: channelUser)
        let caseID = newCaseID ?? ID.v7(milliseconds: now())
        let epoch0 = try fixedEpoch ?? BoxKeyPair.generate()
        let signature = keys.signing.sign(
            EpochKey.signedMessage(deskID: desk.id, caseID: caseID, epoch: 0, publicKey: epoch0.publicKey))
        let sealedUser = { (pk: [UInt8]) throws -> [UInt8] in
            try SealedBox.seal(
                Canonical.encode([
                    Array("consultvault/channel-user/v1".utf8), caseID.bytes, desk.id.bytes, Array(channelUser.utf8),
                ]), to: pk)
        }
        let now = now()
        let forOversight = try sealedUser(desk.manifest.oversightPublic)
        let forCase = try sealedUser(epoch0.publicKey)
        let tag = VaultKeys.pseudonymKeyTag(keys.pseudonym)
        let state = CaseRow.macFields(
            id: caseID, deskID: desk.id, routingID: routing, routingKey: tag, status: "open", hold: false,
            assigneeID: nil, currentEpoch: 0, openedAt: now, closedAt: nil,
            channelUserDigest: CaseRow.digest(oversight: forOversight, case: forCase))
        try db.execute(
            sql: """
                INSERT INTO cases (id, desk_id, routing_id, status, opened_at, last_message_at, channel_user_oversight,
                    channel_user_case, routing_key, state_mac) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(caseID.bytes), Data(desk.id.bytes), Data(routing), now, now, Data(forOversight), Data(forCase),
                Data(tag), Data(stateMAC.tag(.caseState, state)),
            ])
        try db.execute(
            sql:
                "INSERT INTO case_epochs (key_id, case_id, epoch, public_key, signature, created_at) VALUES (?, ?, 0, ?, ?, ?)",
            arguments: [Data(epoch0.keyID), Data(caseID.bytes), Data(epoch0.publicKey), Data(signature), now])
        guard let c = try findCase(db, id: caseID) else { throw VaultError.integrity("new case vanished") }
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.queuePublic)
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.oversightPublic)
        return c
    }

    /// Inserts a sealed message as the case's next seq and updates the case counters (message count, inbound
    /// count for the unread figures). `seq` may be passed by a caller that read the case in the same write;
    /// otherwise it is read here. (A wrong one fails on the UNIQUE (case_id, seq) key.)
    /// - Returns: the envelope hash stored with the row (for the write's access-log entry).
    @discardableResult
    func insertMessage(
        _ db: Database, _ e: Envelope, case c: CaseRow, externalID: String?, writtenBy: String, seq known: Int? = nil
    ) throws -> [UInt8] {
        let hash = e.hash
        guard
            let seq = try known
                ?? Int.fetchOne(
                    db.cachedStatement(sql: "SELECT message_count + 1 FROM cases WHERE id = ?"),
                    arguments: [Data(c.id.bytes)])
        else { throw VaultError.integrity("case vanished") }
        try db.cachedStatement(
            sql: """
                INSERT INTO messages (id, case_id, seq, desk_id, external_id, epoch_key_id, direction, kind, author, sent_at,
                    body, sealed_key, envelope_hash, written_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                Data(e.messageID.bytes), Data(c.id.bytes), seq, Data(c.deskID.bytes), externalID, Data(e.epochKeyID),
                e.direction, e.kind, e.author, e.sentAt, Data(e.body), Data(e.key), Data(hash), writtenBy, now(),
            ])
        let inbound = e.direction == "inbound"
        try db.cachedStatement(
            sql: """
                UPDATE cases SET message_count = ?, last_message_at = ?,
                    last_inbound_at = CASE WHEN ? THEN ? ELSE last_inbound_at END, inbound_count = inbound_count + ?
                WHERE id = ?
                """
        ).execute(
            arguments: [seq, now(), inbound, now(), inbound ? 1 : 0, Data(c.id.bytes)])
        return hash
    }
}
