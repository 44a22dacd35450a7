import Foundation
import GRDB
import VaultCrypto

/// A media message whose bytes the relay should fetch from LINE and upload with `PUT /v1/messages/{id}/content`.
public struct PendingContent: Sendable, Equatable {
    public let lineMessageID: String
    public let messageID: ID
}

/// What one webhook delivery did (API.md `POST /v1/line/{desk}/webhook`).
public struct WebhookResult: Sendable, Equatable {
    public var accepted = 0
    public var duplicates = 0
    public var ignored = 0
    public var contentPending: [PendingContent] = []
    /// Cases that gained or lost a message (for live views).
    var changedCases: [ID] = []
}

/// One webhook event the vault acts on, parsed and validated before anything is written.
enum WebhookAction: Sendable {
    case message(eventID: String, item: InboundItem, lineMessageID: String, media: Bool)
    case unsend(eventID: String, lineMessageID: String)
    case event(eventID: String, item: InboundItem)

    var eventID: String {
        switch self {
        case .message(let id, _, _, _), .unsend(let id, _), .event(let id, _): return id
        }
    }
}

extension Vault {
    static let mediaKinds: Set<String> = ["image", "video", "audio", "file"]

    /// Stores desk `name`'s LINE channel secret, sealed with crypto_secretbox under `keys/vault-box.key` and bound
    /// to the desk (schema/FORMAT.md §11), replacing an earlier one. Recorded as `desk.line_secret`.
    /// - Throws: `.notFound` for an unknown desk, `.invalidRequest` for an empty or oversized secret.
    public func setLineSecret(desk name: String, secret: SecretBytes, caller: Caller) async throws {
        guard (1...256).contains(secret.count) else {
            throw VaultError.invalid("a LINE channel secret is 1–256 bytes (LINE issues 32 hex characters)")
        }
        try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let box = try self.sealLineSecret(secret, deskID: desk.id)
            try db.execute(
                sql: """
                    INSERT INTO line_channels (desk_id, secret_box, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (desk_id) DO UPDATE SET secret_box = excluded.secret_box, updated_at = excluded.updated_at
                    """, arguments: [Data(desk.id.bytes), Data(box), self.now()])
            try self.record(db, caller, "desk.line_secret", "desk:\(name)")
        }
    }

    static let lineSecretLabel = Array("consultvault/line-channel-secret/v1".utf8)

    func sealLineSecret(_ secret: SecretBytes, deskID: ID) throws -> [UInt8] {
        var plain = secret.withUnsafeBytes { Canonical.encode([Self.lineSecretLabel, deskID.bytes, Array($0)]) }
        defer { SecretBytes.wipe(&plain) }
        return try SecretBox.seal(try SecretBytes(copying: plain), key: keys.box)
    }

    func openLineSecret(_ box: [UInt8], deskID: ID) throws -> SecretBytes {
        let opened = try SecretBox.open(box, key: keys.box)
        var bytes = opened.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        var fields = try Canonical.decode(bytes)
        defer {
            for i in fields.indices { SecretBytes.wipe(&fields[i]) }
        }
        guard fields.count == 3, fields[0] == Self.lineSecretLabel, fields[1] == deskID.bytes, !fields[2].isEmpty else {
            throw VaultError.integrity("the stored LINE channel secret belongs to another desk")
        }
        return try SecretBytes(copying: fields[2])
    }

    /// Handles one LINE webhook delivery for desk `name`: checks the relay's coverage of the desk, then LINE's
    /// signature over the exact body bytes (HMAC-SHA256 under the channel secret, compared in constant time),
    /// then stores every user-source event of a known type in order, in one transaction; redeliveries
    /// (same `webhookEventId`) are counted as duplicates, group/room and unknown events as ignored.
    /// - Throws: `.forbidden` (recorded) for a desk the token does not cover; `.noChannelSecret`,
    ///   `.signatureRequired`, `.invalidSignature` (nothing stored); `.invalidRequest` for a body that is not a
    ///   LINE webhook.
    public func lineWebhook(
        desk name: String, body: [UInt8], signature: String?, relay: RelayPrincipal, requestID: String
    ) async throws -> WebhookResult {
        let caller = relay.caller(requestID: requestID)
        let (desk, box): (DeskState, [UInt8]?) = try await database.read { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let box = try Data.fetchOne(
                db, sql: "SELECT secret_box FROM line_channels WHERE desk_id = ?", arguments: [Data(desk.id.bytes)])
            return (desk, box.map { Array($0) })
        }
        try await enforce(relayCovers(relay, deskID: desk.id, deskName: name), caller, "relay.write", "desk:\(name)")
        guard let box else {
            throw VaultError(
                .noChannelSecret, "desk \(name) has no LINE channel secret; run `consultvault desk set-line-secret`")
        }
        guard let signature, !signature.isEmpty else {
            throw VaultError(.signatureRequired, "send LINE's X-Line-Signature header with the body unchanged")
        }
        let secret = try openLineSecret(box, deskID: desk.id)
        let expected = Hashing.hmacSHA256(body, key: secret)
        let given = Data(base64Encoded: signature).map { Array($0) } ?? []
        guard SecretBytes.constantTimeEquals(given, expected) else {
            throw VaultError(.invalidSignature, "X-Line-Signature does not match the body; nothing was stored")
        }
        var result = WebhookResult()
        let actions = try Self.parseWebhook(body, desk: name, ignored: &result.ignored)
        if actions.isEmpty { return result }
        let ignored = result.ignored
        let stored = try await database.batched { db in
            var r = WebhookResult()
            r.ignored = ignored
            for action in actions {
                try self.apply(db, action, desk: desk, relay: relay, caller: caller, into: &r)
            }
            return r
        }
        notifyCasesChanged(stored.changedCases, kind: "message")
        return stored
    }

    private func apply(
        _ db: Database, _ action: WebhookAction, desk: DeskState, relay: RelayPrincipal, caller: Caller,
        into r: inout WebhookResult
    ) throws {
        let deskID = Data(desk.id.bytes)
        if let seen = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT message_id FROM line_events WHERE desk_id = ? AND webhook_event_id = ?"),
            arguments: [deskID, action.eventID])
        {
            r.duplicates += 1
            if case .message(_, _, let lineID, true) = action, let raw = seen["message_id"] as Data?,
                let mid = ID(bytes: Array(raw)), try !contentComplete(db, messageID: mid)
            {
                r.contentPending.append(PendingContent(lineMessageID: lineID, messageID: mid))
            }
            return
        }
        var messageID: ID?
        switch action {
        case .message(_, let item, let lineID, let media):
            let stored = try storeInbound(db, item, relay: relay, caller: caller, prepared: nil).get()
            messageID = stored.messageID
            if stored.duplicate {
                r.duplicates += 1
            } else {
                r.accepted += 1
                r.changedCases.append(stored.caseID)
            }
            if media, try !contentComplete(db, messageID: stored.messageID) {
                r.contentPending.append(PendingContent(lineMessageID: lineID, messageID: stored.messageID))
            }
        case .unsend(_, let lineID):
            if let stored = try MessageStore.find(db, deskID: desk.id, externalID: "line:\(lineID)") {
                let mid = stored.id
                let policy =
                    try String.fetchOne(
                        db, sql: "SELECT unsend_policy FROM desks WHERE id = ?", arguments: [deskID]) ?? "keep-marked"
                if policy == "delete" {
                    // The desk keeps nothing the person took back: the sealed row and every child row go
                    // (MessageStore); the webhook event stays, so a redelivery is a duplicate.
                    try MessageStore.delete(db, messageID: mid)
                    try record(
                        db, caller, "relay.write", "message:\(mid) unsend-deleted",
                        envelopeHash: stored.envelopeHash)
                } else {
                    try MessageStore.retract(db, id: mid)
                    try record(
                        db, caller, "relay.write", "message:\(mid) retract",
                        envelopeHash: stored.envelopeHash)
                    messageID = mid
                }
            }
            r.accepted += 1
        case .event(_, let item):
            let stored = try storeInbound(db, item, relay: relay, caller: caller, prepared: nil).get()
            messageID = stored.messageID
            if stored.duplicate {
                r.duplicates += 1
            } else {
                r.accepted += 1
                r.changedCases.append(stored.caseID)
            }
        }
        try db.cachedStatement(
            sql: "INSERT INTO line_events (desk_id, webhook_event_id, message_id, created_at) VALUES (?, ?, ?, ?)"
        ).execute(arguments: [deskID, action.eventID, messageID.map { Data($0.bytes) }, now()])
    }

    func contentComplete(_ db: Database, messageID: ID) throws -> Bool {
        try String.fetchOne(
            db, sql: "SELECT state FROM message_content WHERE message_id = ?", arguments: [Data(messageID.bytes)])
            == "complete"
    }

    /// Parses a LINE webhook body (shared/context/line-webhook-openapi.yml `CallbackRequest`) into actions.
    /// Events from groups and rooms, and events or message types this vault does not know, are counted in
    /// `ignored`; a known event missing a required field makes the whole body invalid.
    /// - Throws: `.invalidRequest` naming the first problem (never a value from the body).
    static func parseWebhook(_ body: [UInt8], desk: String, ignored: inout Int) throws -> [WebhookAction] {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw VaultError.invalid("the body is not a LINE webhook: expected a JSON object")
        }
        guard root["destination"] is String else {
            throw VaultError.invalid("the body is not a LINE webhook: missing `destination`")
        }
        guard let events = root["events"] as? [Any] else {
            throw VaultError.invalid("the body is not a LINE webhook: missing `events` array")
        }
        var actions: [WebhookAction] = []
        for (i, any) in events.enumerated() {
            func bad(_ what: String) -> VaultError { .invalid("events.\(i): \(what)") }
            guard let e = any as? [String: Any], let type = e["type"] as? String else {
                throw bad("each event must be an object with a string `type`")
            }
            guard ["message", "unsend", "follow", "unfollow"].contains(type) else {
                ignored += 1
                continue
            }
            guard let eventID = e["webhookEventId"] as? String, !eventID.isEmpty, eventID.utf8.count <= 64 else {
                throw bad("missing `webhookEventId`")
            }
            guard let timestamp = (e["timestamp"] as? NSNumber)?.int64Value, timestamp >= 0 else {
                throw bad("missing integer `timestamp`")
            }
            guard let source = e["source"] as? [String: Any], let sourceType = source["type"] as? String else {
                throw bad("missing `source`")
            }
            guard sourceType == "user" else {
                ignored += 1
                continue
            }
            guard let user = source["userId"] as? String, !user.isEmpty, user.utf8.count <= 256 else {
                throw bad("a user source needs `userId`")
            }
            func item(_ kind: String, direction: String = "inbound", external: String?, _ plain: [UInt8]) -> InboundItem
            {
                InboundItem(
                    desk: desk, channelUser: user, externalID: external, direction: direction, kind: kind,
                    sentAt: timestamp, plaintext: plain)
            }
            switch type {
            case "message":
                guard let m = e["message"] as? [String: Any], let kind = m["type"] as? String,
                    let lineID = m["id"] as? String, !lineID.isEmpty, lineID.utf8.count <= 64
                else { throw bad("a message event needs `message.type` and `message.id`") }
                let external = "line:\(lineID)"
                switch kind {
                case "text":
                    guard let text = m["text"] as? String else { throw bad("a text message needs `message.text`") }
                    actions.append(
                        .message(
                            eventID: eventID, item: item("text", external: external, Plaintext.text(text)),
                            lineMessageID: lineID, media: false))
                case "image", "video", "audio", "file":
                    var data: [(String, Plaintext.Value)] = [("line_message_id", .string(lineID))]
                    if let provider = (m["contentProvider"] as? [String: Any])?["type"] as? String {
                        data.append(("content_provider", .string(provider)))
                    }
                    if let d = (m["duration"] as? NSNumber)?.int64Value { data.append(("duration_ms", .int(d))) }
                    if kind == "file" {
                        guard let name = m["fileName"] as? String, let size = (m["fileSize"] as? NSNumber)?.int64Value
                        else { throw bad("a file message needs `fileName` and `fileSize`") }
                        data += [("file_name", .string(name)), ("file_size", .int(size))]
                    }
                    actions.append(
                        .message(
                            eventID: eventID, item: item(kind, external: external, Plaintext.object(data)),
                            lineMessageID: lineID, media: true))
                case "location":
                    guard let lat = (m["latitude"] as? NSNumber)?.doubleValue,
                        let lon = (m["longitude"] as? NSNumber)?.doubleValue, lat.isFinite, lon.isFinite
                    else { throw bad("a location message needs numeric `latitude` and `longitude`") }
                    var data: [(String, Plaintext.Value)] = [("latitude", .double(lat)), ("longitude", .double(lon))]
                    if let t = m["title"] as? String { data.append(("title", .string(t))) }
                    if let a = m["address"] as? String { data.append(("address", .string(a))) }
                    actions.append(
                        .message(
                            eventID: eventID, item: item("location", external: external, Plaintext.object(data)),
                            lineMessageID: lineID, media: false))
                case "sticker":
                    guard let package = m["packageId"] as? String, let sticker = m["stickerId"] as? String else {
                        throw bad("a sticker message needs `packageId` and `stickerId`")
                    }
                    var data: [(String, Plaintext.Value)] = [
                        ("package_id", .string(package)), ("sticker_id", .string(sticker)),
                    ]
                    if let t = m["text"] as? String { data.append(("text", .string(t))) }
                    actions.append(
                        .message(
                            eventID: eventID, item: item("sticker", external: external, Plaintext.object(data)),
                            lineMessageID: lineID, media: false))
                default:
                    ignored += 1
                }
            case "unsend":
                guard let lineID = (e["unsend"] as? [String: Any])?["messageId"] as? String, !lineID.isEmpty else {
                    throw bad("an unsend event needs `unsend.messageId`")
                }
                actions.append(.unsend(eventID: eventID, lineMessageID: lineID))
            case "follow":
                let unblocked = ((e["follow"] as? [String: Any])?["isUnblocked"] as? Bool) ?? false
                actions.append(
                    .event(
                        eventID: eventID,
                        item: item(
                            "follow", direction: "event", external: "line-event:\(eventID)",
                            Plaintext.object([("is_unblocked", .bool(unblocked))]))))
            default:  // unfollow
                actions.append(
                    .event(
                        eventID: eventID,
                        item: item(
                            "unfollow", direction: "event", external: "line-event:\(eventID)", Plaintext.object([]))))
            }
        }
        return actions
    }
}
