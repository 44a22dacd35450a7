import Foundation
import GRDB
import VaultCrypto

/// An attachment upload in progress (`PUT /v1/messages/{id}/content`): bytes are encrypted with
/// crypto_secretstream in `chunkSize` chunks and written as they arrive, never held whole in memory
/// (schema/FORMAT.md §12). Call `append` for each piece of the body, then `finish`, or `abort` on failure.
public final class ContentUpload: @unchecked Sendable {
    // Used by one request task at a time (append…finish in sequence): no concurrent access.
    public static let chunkSize = 64 * 1024

    let vault: Vault
    let messageID: ID
    let caller: Caller
    let limit: Int
    let pusher: SecretStream.Pusher
    let prefixHash: [UInt8]
    private var buffer: [UInt8] = []
    private var index = 0
    private var size = 0
    private var chunkHashes: [[UInt8]] = []

    init(vault: Vault, messageID: ID, caller: Caller, limit: Int, pusher: SecretStream.Pusher, prefixHash: [UInt8]) {
        self.vault = vault
        self.messageID = messageID
        self.caller = caller
        self.limit = limit
        self.pusher = pusher
        self.prefixHash = prefixHash
        buffer.reserveCapacity(Self.chunkSize * 2)
    }

    /// Adds body bytes; full chunks are encrypted and stored at once.
    /// - Throws: `.payloadTooLarge` past the limit (call `abort`); storage errors.
    public func append(_ bytes: [UInt8]) async throws {
        size += bytes.count
        guard size <= limit else {
            throw VaultError(.payloadTooLarge, "the content exceeds the limit of \(limit) bytes")
        }
        buffer.append(contentsOf: bytes)
        // Keep the tail: the last chunk is pushed with TAG_FINAL by `finish`.
        while buffer.count > Self.chunkSize {
            let sealed = try buffer.withUnsafeBytes { b in
                try pusher.push(
                    UnsafeRawBufferPointer(rebasing: b[0..<Self.chunkSize]), aad: messageID.bytes, final: false)
            }
            buffer.removeFirst(Self.chunkSize)
            try await store(sealed)
        }
    }

    /// Seals the last chunk (TAG_FINAL), marks the content complete and records the write with its hash.
    /// - Returns: the plaintext size in bytes.
    public func finish() async throws -> Int {
        let sealed = try buffer.withUnsafeBytes { try pusher.push($0, aad: messageID.bytes, final: true) }
        SecretBytes.wipe(&buffer)
        buffer = []
        try await store(sealed)
        let hash = Hashing.blake2b(parts: [prefixHash] + chunkHashes)
        let (mid, count, total, caller) = (messageID, index, size, caller)
        try await vault.database.batched { db in
            try db.execute(
                sql: """
                    UPDATE message_content SET state = 'complete', size = ?, chunk_count = ?, completed_at = ?
                    WHERE message_id = ? AND state = 'writing'
                    """, arguments: [total, count, self.vault.now(), Data(mid.bytes)])
            try self.vault.record(db, caller, "relay.write", "content:\(mid)", envelopeHash: hash)
        }
        return total
    }

    /// Removes what was stored of this upload, so the relay can try again.
    public func abort() async {
        SecretBytes.wipe(&buffer)
        let mid = messageID
        _ = try? await vault.database.batched { db in
            try db.execute(sql: "DELETE FROM content_chunks WHERE message_id = ?", arguments: [Data(mid.bytes)])
            try db.execute(
                sql: "DELETE FROM message_content WHERE message_id = ? AND state = 'writing'",
                arguments: [Data(mid.bytes)])
        }
    }

    private func store(_ sealed: [UInt8]) async throws {
        let (mid, idx) = (messageID, index)
        chunkHashes.append(Hashing.blake2b(sealed))
        index += 1
        try await vault.database.batched { db in
            try db.cachedStatement(sql: "INSERT INTO content_chunks (message_id, idx, data) VALUES (?, ?, ?)")
                .execute(arguments: [Data(mid.bytes), idx, Data(sealed)])
        }
    }
}

/// A decrypting reader over a stored attachment, chunk by chunk.
public final class ContentReader: @unchecked Sendable {
    // Used by one response task at a time.
    public let contentType: String
    public let size: Int
    let vault: Vault
    let messageID: ID
    let chunkCount: Int
    let puller: SecretStream.Puller
    private var index = 0
    private var done = false

    init(vault: Vault, messageID: ID, contentType: String, size: Int, chunkCount: Int, puller: SecretStream.Puller) {
        self.vault = vault
        self.messageID = messageID
        self.contentType = contentType
        self.size = size
        self.chunkCount = chunkCount
        self.puller = puller
    }

    /// The next decrypted chunk, or nil at the end.
    /// - Throws: `.integrity` when a chunk is missing, altered, reordered or the stream was truncated.
    public func next() async throws -> [UInt8]? {
        if done { return nil }
        guard index < chunkCount else { throw VaultError.integrity("stored content is truncated") }
        let (mid, idx) = (messageID, index)
        let data = try await vault.database.read { db in
            try Data.fetchOne(
                db.cachedStatement(sql: "SELECT data FROM content_chunks WHERE message_id = ? AND idx = ?"),
                arguments: [Data(mid.bytes), idx])
        }
        guard let data else { throw VaultError.integrity("a stored content chunk is missing") }
        let (plain, final): ([UInt8], Bool)
        do {
            (plain, final) = try puller.pull(Array(data), aad: messageID.bytes)
        } catch {
            throw VaultError.integrity("stored content does not authenticate; it was altered")
        }
        index += 1
        guard final == (index == chunkCount) else { throw VaultError.integrity("stored content is truncated") }
        done = final
        return plain
    }
}

extension Vault {
    /// Starts storing the media bytes of a `content_pending` message (image, video, audio, file) of one of the relay's
    /// desks: a fresh stream key, sealed like a message key to the message's epoch key.
    /// - Throws: `.notFound` for an unknown message, `.forbidden` (recorded) for another desk's, `.conflict` when content
    ///   is stored or being stored already or the message has no media, `.unsupportedMediaType` for a Content-Type
    ///   that is not `type/subtype` (its parameters are dropped, never stored).
    public func beginContent(
        messageID: ID, contentType: String, limit: Int, relay: RelayPrincipal, requestID: String
    ) async throws -> ContentUpload {
        // Only `type/subtype` is kept: parameters (`name=`, `filename=`…) can carry a file name, and the row is
        // stored in clear (schema/FORMAT.md §12).
        guard let contentType = Self.mediaType(contentType) else {
            throw VaultError(.unsupportedMediaType, "send the media's Content-Type as type/subtype, e.g. image/jpeg")
        }
        let caller = relay.caller(requestID: requestID)
        let streamKey = try SecretBytes.random(count: SecretStream.keyLength)
        let pusher = try SecretStream.Pusher(key: streamKey)
        let outcome: Result<[UInt8], VaultError> = try await database.batched { db in
            try self.assertRelayLive(db, relay)
            guard let (caseID, deskID, kind, keyID) = try MessageStore.locate(db, id: messageID) else {
                throw VaultError.notFound("no message \(messageID)")
            }
            if case .denied(let e) = self.relayCovers(relay, deskID: deskID, deskName: nil) {
                return try self.refuse(db, caller, "relay.write", "content:\(messageID)", e)
            }
            guard Self.mediaKinds.contains(kind) else {
                throw VaultError.conflict("message \(messageID) is not an image, video, audio or file message")
            }
            if try Self.isContentGone(db, messageID) {
                throw VaultError.conflict(
                    "the content of message \(messageID) was marked gone; it can no longer be stored")
            }
            if let state = try String.fetchOne(
                db, sql: "SELECT state FROM message_content WHERE message_id = ?", arguments: [Data(messageID.bytes)])
            {
                throw VaultError.conflict(
                    state == "complete"
                        ? "the content of message \(messageID) is stored already"
                        : "the content of message \(messageID) is being uploaded")
            }
            guard let c = try self.findCase(db, id: caseID),
                let epochNumber = try self.epochNumber(db, keyID: keyID, case: caseID)
            else { throw VaultError.integrity("a message refers to a missing epoch") }
            let epoch = try self.epochKey(db, case: c, epoch: epochNumber)
            // The stream key is wrapped in the vault's sender session for the message's epoch (FORMAT.md §13).
            let session = try self.senderSessions.session(
                caseID: c.id, epochPublicKey: epoch.publicKey, now: self.now())
            let sealedKey = try session.wrap(streamKey, ad: session.contentKeyAD(messageID: messageID.bytes))
            try SenderSessions.store(
                db, sessionID: session.id, caseID: c.id, epochKeyID: keyID, publicKey: session.publicKey,
                now: self.now())
            try db.execute(
                sql: """
                    INSERT INTO message_content (message_id, state, content_type, size, chunk_size, chunk_count,
                        epoch_key_id, sealed_key, header, written_by, created_at, session_id)
                    VALUES (?, 'writing', ?, 0, ?, 0, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(messageID.bytes), contentType, ContentUpload.chunkSize, Data(keyID), Data(sealedKey),
                    Data(pusher.header), "relay:\(relay.name)", self.now(), Data(session.id),
                ])
            return .success(Canonical.encode([messageID.bytes, sealedKey, pusher.header, session.id]))
        }
        let prefix = try outcome.get()
        return ContentUpload(
            vault: self, messageID: messageID, caller: caller, limit: limit, pusher: pusher,
            prefixHash: Hashing.blake2b(prefix))
    }

    /// The media type of a Content-Type value, lowercased, without its parameters: nil unless it is
    /// `type/subtype`, each an RFC 6838 restricted name (a letter or digit, then up to 126 of letters, digits and
    /// `!#$&-^_.+`), with optional spaces or tabs around it.
    static func mediaType(_ header: String) -> String? {
        var bytes = Array(header.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        func restrictedName(_ name: ArraySlice<UInt8>) -> Bool {
            guard let first = name.first, (1...127).contains(name.count), isAlphanumeric(first) else { return false }
            return name.allSatisfy { isAlphanumeric($0) || Array("!#$&-^_.+".utf8).contains($0) }
        }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
        }
        guard parts.count == 2, restrictedName(parts[0]), restrictedName(parts[1]) else { return nil }
        return String(decoding: bytes, as: UTF8.self).lowercased()
    }

    /// Opens a message's stored media for `user`: the read policy of transcripts (`mayRead`), recorded as
    /// `content.read` in the transaction that serves it; the stream key is opened with the user's own keys.
    /// - Throws: `.forbidden` (recorded), `.notFound` when the message or its content is not there (yet).
    public func openContent(caseID: ID, messageID: ID, as user: UnlockedUser, requestID: String) async throws
        -> ContentReader
    {
        let caller = user.caller(requestID: requestID)
        let target = "case:\(caseID) content:\(messageID)"
        let outcome: Result<(StoredContent, BoxKeyPair), VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.mayRead(db, case: c, user) {
                return try self.refuse(db, caller, "content.read", target, e)
            }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT c.*, s.public_key AS session_public_key FROM message_content c
                        JOIN messages m ON m.id = c.message_id LEFT JOIN sender_sessions s ON s.id = c.session_id
                        WHERE c.message_id = ? AND m.case_id = ? AND c.state = 'complete'
                        """, arguments: [Data(messageID.bytes), Data(caseID.bytes)])
            else { throw VaultError.notFound("message \(messageID) has no stored content in this case") }
            let stored = StoredContent(row: row)
            // The epoch key is opened before the read is recorded: a read that can serve nothing (the reader holds
            // no key, or a wrap fails its check) is recorded as an `error`, like a transcript read, not `allowed`.
            let epoch: BoxKeyPair
            do {
                epoch = try self.openEpoch(db, keyID: stored.keyID, case: c, desk: desk, as: user)
            } catch {
                try self.record(db, caller, "content.read", target, .error)
                return .failure(
                    error as? VaultError ?? .integrity("a stored key wrap of this case failed its check"))
            }
            try self.record(db, caller, "content.read", target)
            return .success((stored, epoch))
        }
        let (row, epoch) = try outcome.get()
        let puller = try contentPuller(row, epoch: epoch, caseID: caseID, messageID: messageID, as: user)
        return ContentReader(
            vault: self, messageID: messageID, contentType: row.contentType, size: row.size,
            chunkCount: row.chunkCount, puller: puller)
    }

    /// Opens the secretstream of a stored attachment: its stream key through the sender session (v2) or the epoch
    /// key (v1), then the header.
    /// - Throws: `.integrity` when the key or the header was altered.
    func contentPuller(_ row: StoredContent, epoch: BoxKeyPair, caseID: ID, messageID: ID, as user: UnlockedUser?)
        throws -> SecretStream.Puller
    {
        let keyID = row.keyID
        let streamKey: SecretBytes
        do {
            if let sessionID = row.sessionID {
                let session = try openSenderSession(
                    id: sessionID, caseID: caseID, epoch: epoch, publicKey: row.sessionPublicKey, as: user)
                guard session.epochKeyID == keyID else { throw VaultError.integrity("session of another epoch") }
                streamKey = try session.unwrap(row.sealedKey, ad: session.contentKeyAD(messageID: messageID.bytes))
            } else {
                streamKey = try LabelledWrap.open(
                    row.sealedKey, with: epoch, label: .contentKey, scope: messageID.bytes, keyID: keyID)
            }
        } catch {
            throw VaultError.integrity("the content key of message \(messageID) does not open; the row was altered")
        }
        let puller: SecretStream.Puller
        do {
            puller = try SecretStream.Puller(key: streamKey, header: row.header)
        } catch {
            throw VaultError.integrity("the content header of message \(messageID) was altered")
        }
        return puller
    }
}

/// A `message_content` row (with its sender session's public key) as the readers need it.
struct StoredContent: Sendable {
    var contentType: String
    var size: Int
    var chunkCount: Int
    var keyID: [UInt8]
    var sealedKey: [UInt8]
    var header: [UInt8]
    var sessionID: [UInt8]?
    var sessionPublicKey: [UInt8]?

    init(row: Row) {
        contentType = row["content_type"]
        size = row["size"]
        chunkCount = row["chunk_count"]
        keyID = Array(row["epoch_key_id"] as Data)
        sealedKey = Array(row["sealed_key"] as Data)
        header = Array(row["header"] as Data)
        sessionID = (row["session_id"] as Data?).map { Array($0) }
        sessionPublicKey = (row["session_public_key"] as Data?).map { Array($0) }
    }
}
