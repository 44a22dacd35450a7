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
    var sealed: (caseID: ID, epoch: Int, publicKey: [UInt8], envelope: Envelope, sessionPublicKey: [UInt8])?
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
        let result = try await database.batched { db in
            try self.storeInbound(db, item, relay: relay, caller: caller, prepared: pre)
        }.get()
        if !result.duplicate { notifyCasesChanged([result.caseID], kind: "message") }
        return result
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
        let (envelope, sessionPublicKey) = try sealEnvelope(
            item.plaintext, messageID: ID.v7(milliseconds: now()), caseID: route.caseID,
            epochPublicKey: route.publicKey, direction: item.direction, kind: item.kind, author: "channel",
            sentAt: item.sentAt)
        return Prepared(desk: desk, sealed: (route.caseID, route.epoch, route.publicKey, envelope, sessionPublicKey))
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
        let sessionPublicKey: [UInt8]
        if let p = prepared?.sealed, p.caseID == c.id, p.epoch == c.currentEpoch,
            try epochPublicKey(db, case: c.id, epoch: c.currentEpoch) == p.publicKey
        {
            (envelope, sessionPublicKey) = (p.envelope, p.sessionPublicKey)
        } else {
            let epoch = try epochKey(db, case: c, epoch: c.currentEpoch)
            (envelope, sessionPublicKey) = try sealEnvelope(
                item.plaintext, messageID: ID.v7(milliseconds: now()), caseID: c.id,
                epochPublicKey: epoch.publicKey, direction: item.direction, kind: item.kind, author: "channel",
                sentAt: item.sentAt)
            hints.remember(
                route: (c.id, c.currentEpoch, epoch.publicKey),
                for: try routingID(desk: desk.id, channelUser: item.channelUser))
            hints.remember(desk: desk)
        }
        // `c` was read (or created) by routeCase in this very write, so its count is current.
        let hash = try MessageStore.insert(
            db, envelope, sessionPublicKey: sessionPublicKey, case: c, externalID: item.externalID,
            writtenBy: "relay:\(relay.name)",
            seq: c.messageCount + 1, now: now())
        try intakeHooks(db, deskID: desk.id, caseID: c.id, item: item)
        try record(db, caller, "relay.write", "message:\(envelope.messageID)", envelopeHash: hash)
        return .success(IngestResult(messageID: envelope.messageID, caseID: c.id, duplicate: false))
    }

    /// The message already stored under this external id on the desk, as a duplicate result.
    func findExternal(_ db: Database, deskID: ID, externalID: String) throws -> IngestResult? {
        try MessageStore.find(db, deskID: deskID, externalID: externalID).map {
            IngestResult(messageID: $0.id, caseID: $0.caseID, duplicate: true)
        }
    }
}
