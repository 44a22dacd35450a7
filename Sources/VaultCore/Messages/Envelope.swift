import VaultCrypto

/// The one message envelope of DESIGN.md, on every path (relay-sealed or vault-sealed):
/// body = XChaCha20-Poly1305 under a fresh message key with the canonical AAD of every cleartext
/// field; key = the labelled message key sealed to the case epoch public key (schema/FORMAT.md §1).
public struct Envelope: Sendable, Equatable {
    public static let formatVersion: UInt8 = 0x01

    public var messageID: ID
    public var caseID: ID
    public var epochKeyID: [UInt8]
    public var direction: String
    public var kind: String
    public var author: String
    public var sentAt: Int64
    public var body: [UInt8]
    public var key: [UInt8]

    public init(
        messageID: ID, caseID: ID, epochKeyID: [UInt8], direction: String, kind: String, author: String, sentAt: Int64,
        body: [UInt8], key: [UInt8]
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
    }

    /// canonical([0x01], message id, case id, epoch key id, direction, kind, author, u64 sent_at).
    public static func aad(
        messageID: ID, caseID: ID, epochKeyID: [UInt8], direction: String, kind: String, author: String, sentAt: Int64
    ) -> [UInt8] {
        // Built in place (no array per field): it is rebuilt for every message a transcript opens.
        var c = Canonical(
            capacity: 8 * 4 + 1 + 16 + 16 + 16 + direction.utf8.count + kind.utf8.count + author.utf8.count + 8)
        c.append(byte: formatVersion)
        c.append(messageID.bytes)
        c.append(caseID.bytes)
        c.append(epochKeyID)
        c.append(direction)
        c.append(kind)
        c.append(author)
        c.append(u64: sentAt)
        return c.bytes
    }

    public var aad: [UInt8] {
        Self.aad(
            messageID: messageID, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind,
            author: author,
            sentAt: sentAt)
    }

    /// BLAKE2b-256(canonical(AAD, body, key)): what the access log records for a write.
    public var hash: [UInt8] { Hashing.blake2b(Canonical.encode([aad, body, key])) }

    /// Seals `plaintext` for the epoch public key `epochPublicKey`.
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

    /// Opens with the epoch key pair (whose id must be the envelope's epoch key id).
    /// - Throws: `CryptoError` when the key does not open or any cleartext field was altered.
    public func open(with epochKey: BoxKeyPair) throws -> [UInt8] {
        guard SecretBytes.constantTimeEquals(epochKey.keyID, epochKeyID) else {
            throw CryptoError(.keyMismatch, "envelope belongs to another epoch key")
        }
        return try LabelledWrap.openWithWrappedKey(
            body: body, aad: aad, wrap: key, with: epochKey, label: .messageKey, scope: messageID.bytes,
            keyID: epochKeyID)
    }
}
