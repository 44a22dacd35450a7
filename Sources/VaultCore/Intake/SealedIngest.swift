import Foundation
import GRDB
import VaultCrypto

/// A channel user's case and its current epoch key, for a relay that seals messages itself.
public struct IntakeRoute: Sendable, Equatable {
    public let caseID: ID
    public let keyID: [UInt8]
    public let publicKey: [UInt8]
}

/// The `sealed` form of `POST /v1/messages`: an envelope the relay built (schema/FORMAT.md §15).
public struct SealedInbound: Sendable {
    public var desk: String
    public var channelUser: String
    public var externalID: String
    public var caseID: ID
    public var messageID: ID
    public var keyID: [UInt8]
    public var sentAt: Int64
    public var kind: String
    public var body: [UInt8]
    public var key: [UInt8]
    /// Version 2 (schema/FORMAT.md §15): the relay's sender session public key; nil for version 1.
    public var sessionPublicKey: [UInt8]?
    /// The relay's triage hint (API.md: imminent, high or medium): raises the case's risk in the message's write.
    public var triage: String?

    public init(
        desk: String, channelUser: String, externalID: String, caseID: ID, messageID: ID, keyID: [UInt8],
        sentAt: Int64, kind: String, body: [UInt8], key: [UInt8], sessionPublicKey: [UInt8]? = nil,
        triage: String? = nil
    ) {
        self.desk = desk
        self.channelUser = channelUser
        self.externalID = externalID
        self.caseID = caseID
        self.messageID = messageID
        self.keyID = keyID
        self.sentAt = sentAt
        self.kind = kind
        self.body = body
        self.key = key
        self.sessionPublicKey = sessionPublicKey
        self.triage = triage
    }
}

extension Vault {
    static let inboundKinds: Set<String> = ["text", "image", "video", "audio", "file", "location", "sticker"]

    /// The open case of a channel user on a desk (reopening one closed within the reopen window, or opening a new
    /// one) and its current, vault-signed epoch key. Recorded as `relay.route`.
    /// - Throws: `.notFound` for an unknown desk; `.forbidden` (recorded) for a desk the token does not cover.
    public func routeIntake(desk name: String, channelUser: String, relay: RelayPrincipal, requestID: String)
        async throws -> IntakeRoute
    {
        let caller = relay.caller(requestID: requestID)
        let outcome: Result<IntakeRoute, VaultError> = try await database.batched { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.relayMayWrite(db, relay, deskID: desk.id, deskName: name) {
                return try self.refuse(db, caller, "relay.route", "desk:\(name)", e)
            }
            let c = try self.routeCase(db, desk: desk, channelUser: channelUser)
            let epoch = try self.epochKey(db, case: c, epoch: c.currentEpoch)
            try self.record(db, caller, "relay.route", "case:\(c.id)")
            return .success(IntakeRoute(caseID: c.id, keyID: epoch.keyID, publicKey: epoch.publicKey))
        }
        return try outcome.get()
    }

    /// Stores an envelope the relay sealed itself, without opening it: the case must be the channel user's case on
    /// the desk and `keyID` its current epoch; idempotent on (desk, external id). Recorded with the envelope hash.
    /// In the same transaction: the triage hint raises the case's risk, and the automatic messages that need no text
    /// (out-of-hours, busy) apply as for the other forms (a redelivered duplicate does neither again).
    /// - Throws: `.conflict` for a stale key id (route again), a closed case or a reused message id; `.notFound` for
    ///   an unknown desk or case; `.forbidden` (recorded) for a desk the token does not cover; `.invalidRequest` for
    ///   malformed envelope fields.
    public func ingestSealed(_ m: SealedInbound, relay: RelayPrincipal, requestID: String) async throws -> IngestResult
    {
        guard m.messageID.version == 7 else { throw VaultError.invalid("`sealed.message_id` must be a UUIDv7") }
        guard Self.inboundKinds.contains(m.kind) else {
            throw VaultError.invalid(
                "`sealed.kind` must be one of \(Self.inboundKinds.sorted().joined(separator: ", "))")
        }
        guard m.keyID.count == 16 else { throw VaultError.invalid("`sealed.key_id` must be 32 hex digits") }
        if let level = m.triage { try Self.checkTriageHint(level) }
        guard m.body.count >= AEAD.nonceLength + AEAD.tagLength + 2 else {
            throw VaultError.invalid("`sealed.body` is too short to be nonce ‖ ciphertext")
        }
        if let sessionPublicKey = m.sessionPublicKey {
            // Version 2: the message key wrapped under the relay's session key (schema/FORMAT.md §1.8).
            guard m.key.count == SenderSessionKey.wrapLength else {
                throw VaultError.invalid("`sealed.key` of version 2 must be the 72-byte wrapped message key")
            }
            guard SenderSessionKey.isUsablePublicKey(sessionPublicKey) else {
                throw VaultError.invalid("`sealed.session_public_key` must be a 32-byte X25519 public key")
            }
        } else {
            // A labelled message-key blob is 107 bytes (schema/FORMAT.md §2), sealed: + 48.
            guard m.key.count == 107 + SealedBox.overhead else {
                throw VaultError.invalid("`sealed.key` must be the 155-byte sealed message key")
            }
        }
        let caller = relay.caller(requestID: requestID)
        let result = try await database.batched { db -> IngestOutcome in
            guard let desk = try self.desk(db, name: m.desk) else { throw VaultError.notFound("no desk \(m.desk)") }
            if case .denied(let e) = try self.relayMayWrite(db, relay, deskID: desk.id, deskName: m.desk) {
                return try self.refuse(db, caller, "relay.write", "desk:\(m.desk)", e)
            }
            if let dup = try self.findExternal(db, deskID: desk.id, externalID: m.externalID) { return .success(dup) }
            guard let c = try self.findCase(db, id: m.caseID), c.deskID == desk.id else {
                throw VaultError.notFound("no case \(m.caseID) on desk \(m.desk)")
            }
            let routing = c.routingID
            let current = try self.routingID(desk: desk.id, channelUser: m.channelUser)
            let previous = try self.previousRoutingID(desk: desk.id, channelUser: m.channelUser)
            guard Array(routing) == current || Array(routing) == previous else {
                throw VaultError.conflict("case \(m.caseID) is not this channel user's case; call /v1/intake/route")
            }
            guard c.status == "open" else {
                throw VaultError.conflict("case \(m.caseID) is closed; call /v1/intake/route again")
            }
            let epoch = try self.epochKey(db, case: c, epoch: c.currentEpoch)
            guard SecretBytes.constantTimeEquals(epoch.keyID, m.keyID) else {
                throw VaultError.conflict(
                    "`sealed.key_id` is not the case's current epoch key; call /v1/intake/route and seal again")
            }
            if try MessageStore.exists(db, id: m.messageID) {
                throw VaultError.conflict("`sealed.message_id` is already used; choose a fresh UUIDv7")
            }
            let sessionID = m.sessionPublicKey.map {
                SenderSessionKey.sessionID(caseID: c.id.bytes, epochKeyID: m.keyID, sessionPublicKey: $0)
            }
            let envelope = Envelope(
                messageID: m.messageID, caseID: c.id, epochKeyID: m.keyID, direction: "inbound", kind: m.kind,
                author: "channel", sentAt: m.sentAt, body: m.body, key: m.key, sessionID: sessionID)
            try MessageStore.insert(
                db, envelope, sessionPublicKey: m.sessionPublicKey, case: c, externalID: m.externalID,
                writtenBy: "relay-sealed:\(relay.name)", now: self.now())
            try self.record(db, caller, "relay.write", "message:\(m.messageID)", envelopeHash: envelope.hash)
            if let level = m.triage { try self.raiseRisk(db, caseID: c.id, to: level, keyword: false) }
            try self.applyAutoReplies(
                db, deskID: desk.id, caseID: c.id,
                item: InboundItem(
                    desk: m.desk, channelUser: m.channelUser, externalID: m.externalID, kind: m.kind, sentAt: m.sentAt,
                    plaintext: []))
            return .success(IngestResult(messageID: m.messageID, caseID: c.id, duplicate: false))
        }.get()
        if !result.duplicate { notifyCasesChanged([result.caseID], kind: "message") }
        return result
    }
}
