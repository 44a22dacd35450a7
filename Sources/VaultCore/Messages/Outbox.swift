import Foundation
import GRDB
import VaultCrypto

/// A reply waiting for the relay: `box` is crypto_box_seal of `{"retry_key","text","to"}` to the desk's relay key.
public struct OutboxItem: Sendable, Equatable {
    public let id: ID
    public let caseID: ID
    /// The desk's name: the relay picks the channel (access token, relay key) by it.
    public let desk: String
    public let createdAt: Int64
    public let box: [UInt8]
}

extension Vault {
    /// Supervisor `supervisor` (unlocked, a confirmed supervisor of the desk) registers the relay's X25519 public key:
    /// a new desk manifest version listing it, signed by the supervisor; recorded as `desk.relay_key`.
    /// - Throws: `.forbidden` (recorded) for anyone but a confirmed supervisor of the desk; `.invalidRequest` for a
    ///   key that is not 32 bytes; `.notFound` for an unknown desk.
    public func setRelayKey(desk name: String, publicKey: [UInt8], supervisor: UnlockedUser, requestID: String)
        async throws
    {
        guard publicKey.count == 32 else {
            throw VaultError.invalid("the relay key must be a 32-byte X25519 public key")
        }
        let caller = supervisor.caller(requestID: requestID)
        let target = "desk:\(name) relay_key:\(Hashing.keyID(publicKey).hex)"
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, supervisor, else: "only a confirmed supervisor of \(name) registers its relay key")
            {
                return try self.refuse(db, caller, "desk.relay_key", target, e)
            }
            var manifest = desk.manifest
            manifest.version += 1
            manifest.relayPublic = publicKey
            try self.storeManifest(db, manifest, signer: supervisor.username, signing: supervisor.signing)
            try self.record(db, caller, "desk.relay_key", target)
            return .success(())
        }
        try outcome.get()
    }

    /// Queues a counselor's reply on a case: stores it as an `outbound` message in the envelope (sealed to the
    /// case's current epoch, author = the user) and, in the same transaction, an outbox item sealed to the desk's
    /// relay key holding `{"retry_key", "text", "to"}` (schema/FORMAT.md §14). Recorded as `reply.write` with the
    /// envelope hash. The caller (the replies route) decides who may reply; this checks desk membership only.
    /// - Parameters:
    ///   - caseID: the case to answer.
    ///   - text: the reply text (non-empty).
    ///   - user: the unlocked author; the case's assignee or a confirmed supervisor of its desk.
    ///   - requestID: for the access log.
    /// - Returns: the new message's id.
    /// - Throws: `.conflict` when the desk has no relay key (`desk set-relay-key`); `.forbidden` (recorded) for a
    ///   non-member; `.notFound` for an unknown case; `.invalidRequest` for an empty text.
    public func queueReply(caseID: ID, text: String, as user: UnlockedUser, requestID: String) async throws -> ID {
        guard !text.isEmpty else { throw VaultError.invalid("a reply needs a non-empty text") }
        let caller = user.caller(requestID: requestID)
        var plaintext = Plaintext.text(text)
        defer { SecretBytes.wipe(&plaintext) }
        let plain = plaintext
        let outcome: Result<ID, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.mayWork(db, case: c, user) {
                return try self.refuse(db, caller, "reply.write", "case:\(caseID)", e)
            }
            let relayKey = desk.manifest.relayPublic
            guard relayKey.count == 32 else {
                throw VaultError.conflict(
                    "desk \(desk.name) has no relay key; a supervisor runs `consultvault desk set-relay-key` first")
            }
            // The channel user id is sealed to epoch 0, which follows the case to every reader.
            guard let sealedUser = try self.channelUserSealedForCase(db, case: c.id) else {
                throw VaultError.integrity("case vanished")
            }
            let epoch0 = try self.openEpoch(
                db, keyID: try self.epochKey(db, case: c, epoch: 0).keyID, case: c, desk: desk, as: user)
            let channelUser = try self.openChannelUser(sealedUser, case: c, desk: desk, with: epoch0)
            let epoch = try self.epochKey(db, case: c, epoch: c.currentEpoch)
            let now = self.now()
            let (envelope, sessionPublicKey) = try self.sealEnvelope(
                plain, messageID: ID.v7(milliseconds: now), caseID: c.id, epochPublicKey: epoch.publicKey,
                direction: "outbound", kind: "text", author: user.username, sentAt: now)
            try MessageStore.insert(
                db, envelope, sessionPublicKey: sessionPublicKey, case: c, externalID: nil, writtenBy: user.username,
                now: now)
            let retryKey = ID.v4().description
            var inner = Plaintext.object([
                ("retry_key", .string(retryKey)), ("text", .string(text)), ("to", .string(channelUser)),
            ])
            defer { SecretBytes.wipe(&inner) }
            let box = try SealedBox.seal(inner, to: relayKey)
            try db.execute(
                sql: """
                    INSERT INTO outbox (id, message_id, case_id, desk_id, relay_key_id, box, status, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [
                    Data(ID.v7(milliseconds: now).bytes), Data(envelope.messageID.bytes), Data(c.id.bytes),
                    Data(c.deskID.bytes), Data(Hashing.keyID(relayKey)), Data(box), now, now,
                ])
            try self.record(db, caller, "reply.write", "message:\(envelope.messageID)", envelopeHash: envelope.hash)
            return .success(envelope.messageID)
        }
        let replyID = try outcome.get()
        notifyCasesChanged([caseID], kind: "message")
        return replyID
    }

    /// Leases up to `limit` pending replies of the relay's desks (or of `desk` only) to it for `leaseSeconds`. Items
    /// leased to this same token are offered again at once (a restarted relay); items leased to another token are
    /// skipped until their lease ends, so two relays never get the same item at once. Delivered and failed items
    /// are never offered again.
    /// - Throws: `.forbidden` (recorded) for a `desk` this token is not issued for; `.notFound` for an unknown desk.
    public func leaseOutbox(
        relay: RelayPrincipal, desk deskName: String? = nil, leaseSeconds: Int, limit: Int = 100, requestID: String
    ) async throws -> [OutboxItem] {
        let caller = relay.caller(requestID: requestID)
        guard !relay.deskIDs.isEmpty else { return [] }
        let outcome: Result<[OutboxItem], VaultError> = try await database.batched { db in
            try self.assertRelayLive(db, relay)
            var desks = relay.deskIDs.map { Data($0.bytes) }
            if let deskName {
                guard let desk = try self.desk(db, name: deskName) else {
                    throw VaultError.notFound("no desk \(deskName)")
                }
                if case .denied(let e) = self.relayCovers(relay, deskID: desk.id, deskName: deskName) {
                    return try self.refuse(db, caller, "relay.outbox.lease", "desk:\(deskName)", e)
                }
                desks = [Data(desk.id.bytes)]
            }
            let now = self.now()
            let placeholders = Array(repeating: "?", count: desks.count).joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT o.id, o.case_id, o.created_at, o.box, d.name FROM outbox o JOIN desks d ON d.id = o.desk_id
                    WHERE o.desk_id IN (\(placeholders)) AND o.status = 'pending'
                    AND (o.lease_holder IS NULL OR o.lease_until <= ? OR o.lease_holder = ?)
                    ORDER BY o.created_at LIMIT ?
                    """,
                arguments: StatementArguments(
                    desks + [now, relay.name, min(max(limit, 1), 1000)] as [DatabaseValueConvertible]))
            var items: [OutboxItem] = []
            for row in rows {
                guard let id = ID(bytes: Array(row[0] as Data)), let cid = ID(bytes: Array(row[1] as Data))
                else { continue }
                try db.execute(
                    sql:
                        "UPDATE outbox SET lease_holder = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    arguments: [relay.name, now + Int64(leaseSeconds) * 1000, now, Data(id.bytes)])
                try self.record(db, caller, "relay.outbox.lease", "outbox:\(id)")
                items.append(
                    OutboxItem(id: id, caseID: cid, desk: row[4], createdAt: row[2], box: Array(row[3] as Data)))
            }
            return .success(items)
        }
        return try outcome.get()
    }

    /// Records the relay's delivery result for an item it holds the lease of: `delivered` removes it from the
    /// outbox (its sealed box is erased; the case shows `delivered`), `failed` is final as well: the item leaves the
    /// outbox (box erased) and the case shows `failed` with `detail` (the relay acks `failed` only for an answer a
    /// retry cannot change).
    /// `detail` is stored in clear, so it is only ever a short machine code (`isDeliveryCode`), never free text.
    /// - Throws: `.invalidRequest` for a `detail` that is not such a code (nothing stored); `.conflict` when the
    ///   caller does not hold a live lease; `.notFound` for an unknown item.
    public func ackOutbox(id: ID, delivered: Bool, detail: String?, relay: RelayPrincipal, requestID: String)
        async throws
    {
        if let detail, !Self.isDeliveryCode(detail) {
            throw VaultError.invalid(
                "`detail` must be a short code such as line:400: 1-16 letters a-z, a colon, then 1-32 of A-Z a-z 0-9 _ . -"
            )
        }
        let caller = relay.caller(requestID: requestID)
        let outcome: Result<ID?, VaultError> = try await database.batched { db in
            try self.assertRelayLive(db, relay)
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT desk_id, case_id, status, lease_holder, lease_until FROM outbox WHERE id = ?",
                    arguments: [Data(id.bytes)]),
                let desk = ID(bytes: Array(row["desk_id"] as Data)),
                self.relayCovers(relay, deskID: desk, deskName: nil) == .allowed  // another desk's item: not found
            else { throw VaultError.notFound("no outbox item \(id)") }
            let holder: String? = row["lease_holder"]
            let until: Int64 = row["lease_until"] ?? 0
            guard row["status"] as String == "pending", holder == relay.name, until > self.now() else {
                return try self.refuse(
                    db, caller, "relay.outbox.ack", "outbox:\(id)",
                    .conflict("this relay does not hold the lease of outbox item \(id); lease it again"))
            }
            try db.execute(
                sql: """
                    UPDATE outbox SET status = ?, detail = ?, lease_holder = NULL, lease_until = NULL, updated_at = ?,
                        box = x'' WHERE id = ?
                    """,
                arguments: [delivered ? "delivered" : "failed", detail, self.now(), Data(id.bytes)])
            try self.record(db, caller, "relay.outbox.ack", "outbox:\(id) \(delivered ? "delivered" : "failed")")
            return .success(ID(bytes: Array(row["case_id"] as Data)))
        }
        if let caseID = try outcome.get() { notifyCasesChanged([caseID], kind: "delivery") }
    }

    /// A delivery detail the outbox stores: `^[a-z]{1,16}:[0-9A-Za-z_.-]{1,32}$`, at most 48 bytes (e.g. `line:400`).
    static func isDeliveryCode(_ detail: String) -> Bool {
        let b = Array(detail.utf8)
        guard b.count <= 48, let colon = b.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let (head, tail) = (b[..<colon], b[(colon + 1)...])
        let codeBytes = Array("_.-".utf8)
        return (1...16).contains(head.count) && head.allSatisfy { (0x61...0x7A).contains($0) }
            && (1...32).contains(tail.count)
            && tail.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                    || codeBytes.contains($0)
            }
    }

    /// Opens the channel user id sealed at case creation (to epoch 0 or the desk oversight key).
    func openChannelUser(_ sealed: [UInt8], case c: CaseRow, desk: DeskState, with key: BoxKeyPair) throws -> String {
        let plain = try SealedBox.open(sealed, with: key)
        var bytes = plain.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        let f = try Canonical.decode(bytes)
        guard f.count == 4, f[0] == Array("consultvault/channel-user/v1".utf8), f[1] == c.id.bytes,
            f[2] == desk.id.bytes, let user = String(bytes: f[3], encoding: .utf8)
        else { throw VaultError.integrity("a case's sealed channel user is malformed") }
        return user
    }
}
