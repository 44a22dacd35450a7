import VaultCrypto

/// The one message envelope of DESIGN.md, on every path (relay-sealed or vault-sealed):
/// body = XChaCha20-Poly1305 under a fresh message key with the canonical AAD of every cleartext
/// field; key = the message key, wrapped (schema/FORMAT.md §1):
/// - version 1: the labelled message key sealed to the case epoch public key (one X25519 per message);
/// - version 2: the message key wrapped under a sender session's key (`sessionID` set; one X25519 per session),
///   with the session id in the AAD.
/// Version 1 envelopes stay readable forever; every writer seals version 2.
public struct Envelope: Sendable, Equatable {
    public static let formatVersion: UInt8 = 0x01
    public static let sessionVersion: UInt8 = 0x02

    public var messageID: ID
    public var caseID: ID
    public var epochKeyID: [UInt8]
    public var direction: String
    public var kind: String
    public var author: String
    public var sentAt: Int64
    public var body: [UInt8]
    public var key: [UInt8]
    /// The sender session (16 bytes) of a version 2 envelope; nil for version 1.
    public var sessionID: [UInt8]?

    /// 1 or 2 (schema/FORMAT.md §1.1, §1.8).
    public var version: UInt8 { sessionID == nil ? Self.formatVersion : Self.sessionVersion }

    public init(
        messageID: ID, caseID: ID, epochKeyID: [UInt8], direction: String, kind: String, author: String, sentAt: Int64,
        body: [UInt8], key: [UInt8], sessionID: [UInt8]? = nil
    ) {
        self.messageID = messageID
        self.caseID = caseID
        self.epochKeyID = epochKeyID
        self.direction = direction
        self.kind = kind
        self.author = author
        self.sentAt = sentAt
        self.body = body
        self.key = key
        self.sessionID = sessionID
    }

    /// Version 1: canonical([0x01], message id, case id, epoch key id, direction, kind, author, u64 sent_at).
    /// Version 2: canonical([0x02], message id, case id, epoch key id, session id, direction, kind, author,
    /// u64 sent_at).
    public static func aad(
        messageID: ID, caseID: ID, epochKeyID: [UInt8], sessionID: [UInt8]? = nil, direction: String, kind: String,
        author: String, sentAt: Int64
    ) -> [UInt8] {
        // Built in place (no array per field): it is rebuilt for every message a transcript opens.
        var c = Canonical(
            capacity: 9 * 4 + 1 + 16 + 16 + 16 + 16 + direction.utf8.count + kind.utf8.count + author.utf8.count + 8)
        c.append(byte: sessionID == nil ? formatVersion : sessionVersion)
        c.append(messageID.bytes)
        c.append(caseID.bytes)
        c.append(epochKeyID)
        if let sessionID { c.append(sessionID) }
        c.append(direction)
        c.append(kind)
        c.append(author)
        c.append(u64: sentAt)
        return c.bytes
    }

    public var aad: [UInt8] {
        Self.aad(
            messageID: messageID, caseID: caseID, epochKeyID: epochKeyID, sessionID: sessionID, direction: direction,
            kind: kind, author: author, sentAt: sentAt)
    }

    /// BLAKE2b-256(canonical(AAD, body, key)): what the access log records for a write.
    public var hash: [UInt8] { Hashing.blake2b(Canonical.encode([aad, body, key])) }

    /// Seals `plaintext` as a version 2 envelope in the sender session `session` (of the case's epoch).
    /// - Throws: `CryptoError` on a failed primitive.
    public static func seal(
        plaintext: [UInt8], messageID: ID, caseID: ID, session: SenderSessionKey, direction: String, kind: String,
        author: String, sentAt: Int64
    ) throws -> Envelope {
        let aad = aad(
            messageID: messageID, caseID: caseID, epochKeyID: session.epochKeyID, sessionID: session.id,
            direction: direction, kind: kind, author: author, sentAt: sentAt)
        let (body, key) = try session.sealWithFreshKey(plaintext, aad: aad)
        return Envelope(
            messageID: messageID, caseID: caseID, epochKeyID: session.epochKeyID, direction: direction, kind: kind,
            author: author, sentAt: sentAt, body: body, key: key, sessionID: session.id)
    }

    /// Seals `plaintext` as a version 1 envelope for the epoch public key `epochPublicKey` (one X25519 per message:
    /// kept for tests and for relays that still send version 1; the vault itself seals version 2).
    public static func seal(
        plaintext: [UInt8], messageID: ID, caseID: ID, epochPublicKey: [UInt8], direction: String, kind: String,
        author: String, sentAt: Int64
    ) throws -> Envelope {
        let epochKeyID = Hashing.keyID(epochPublicKey)
        let aad = aad(
            messageID: messageID, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind,
            author: author,
            sentAt: sentAt)
        let (body, key) = try LabelledWrap.sealWithFreshKey(
            plaintext, aad: aad, label: .messageKey, scope: messageID.bytes, keyID: epochKeyID, to: epochPublicKey)
        return Envelope(
            messageID: messageID, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind,
            author: author,
            sentAt: sentAt, body: body, key: key)
    }

    /// Opens a version 2 envelope in its sender session (whose id and epoch must be the envelope's).
    /// - Throws: `CryptoError` when the session is another, the key does not open or any cleartext field was altered.
    public func open(in session: SenderSessionKey) throws -> [UInt8] {
        guard let sessionID, SecretBytes.constantTimeEquals(session.id, sessionID),
            SecretBytes.constantTimeEquals(session.epochKeyID, epochKeyID)
        else { throw CryptoError(.keyMismatch, "envelope belongs to another sender session") }
        return try session.open(body: body, aad: aad, key: key)
    }

    /// Opens a version 1 envelope with the epoch key pair (whose id must be the envelope's epoch key id).
    /// - Throws: `CryptoError` when the key does not open or any cleartext field was altered.
    public func open(with epochKey: BoxKeyPair) throws -> [UInt8] {
        guard sessionID == nil else { throw CryptoError(.keyMismatch, "a version 2 envelope opens in its session") }
        guard SecretBytes.constantTimeEquals(epochKey.keyID, epochKeyID) else {
            throw CryptoError(.keyMismatch, "envelope belongs to another epoch key")
        }
        return try LabelledWrap.openWithWrappedKey(
            body: body, aad: aad, wrap: key, with: epochKey, label: .messageKey, scope: messageID.bytes,
            keyID: epochKeyID)
    }
}
