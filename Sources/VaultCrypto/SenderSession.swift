internal import CSodium

/// The sender session of envelope version 2 (schema/FORMAT.md §1.8): one X25519 agreement between a writer's
/// ephemeral key pair and a case epoch's public key, from which a 32-byte session key is derived; each message's
/// key is then wrapped under the session key (XChaCha20-Poly1305, fresh random nonce) with the message's whole AAD.
/// A reader pays one X25519 per session instead of one per message.
///
/// ```
/// session_id  = BLAKE2b-128(canon("consultvault/session-id/v2", case_id, epoch_key_id, session_pk))
/// shared      = X25519(session_sk, epoch_pk) = X25519(epoch_sk, session_pk)          (all-zero refused)
/// session_key = BLAKE2b-256(key = shared, canon("consultvault/session-key/v2", session_id, session_pk, epoch_pk))
/// ```
///
/// The session key lives in `sodium_malloc` memory and is wiped when the last reference goes; the ephemeral secret
/// exists only inside `start` and is wiped before it returns.
public final class SenderSessionKey: Sendable {
    public static let idLabel = "consultvault/session-id/v2"
    public static let keyLabel = "consultvault/session-key/v2"
    public static let messageKeyLabel = "consultvault/message-key/v2"
    public static let contentKeyLabel = "consultvault/content-key/v2"
    /// nonce (24) ‖ wrapped 32-byte key ‖ tag (16).
    public static let wrapLength = 24 + 32 + 16

    /// The session id (16 bytes), bound to its case, epoch and public key.
    public let id: [UInt8]
    /// The session's ephemeral X25519 public key (stored once per session).
    public let publicKey: [UInt8]
    /// The case epoch key id the session belongs to.
    public let epochKeyID: [UInt8]
    private let key: SecretBytes

    private init(id: [UInt8], publicKey: [UInt8], epochKeyID: [UInt8], key: SecretBytes) {
        self.id = id
        self.publicKey = publicKey
        self.epochKeyID = epochKeyID
        self.key = key
    }

    /// Whether `publicKey` is a 32-byte X25519 key a session can agree with (not of low order: a key agreement with a
    /// random scalar does not give the all-zero result libsodium refuses).
    public static func isUsablePublicKey(_ publicKey: [UInt8]) -> Bool {
        guard publicKey.count == 32, (try? Sodium.ready()) != nil else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            let b = UnsafeMutableRawBufferPointer(buffer)
            randombytes_buf(buffer.baseAddress!, 32)
            defer { Sodium.wipe(b) }
            return crypto_scalarmult(buffer.baseAddress! + 32, buffer.baseAddress!, publicKey) == 0
        }
    }

    /// The id of the session with public key `sessionPublicKey` for a case epoch.
    public static func sessionID(caseID: [UInt8], epochKeyID: [UInt8], sessionPublicKey: [UInt8]) -> [UInt8] {
        var c = Canonical(capacity: 16 + idLabel.utf8.count + caseID.count + epochKeyID.count + sessionPublicKey.count)
        c.append(idLabel)
        c.append(caseID)
        c.append(epochKeyID)
        c.append(sessionPublicKey)
        return Hashing.blake2b(c.bytes, outputLength: 16)
    }

    /// A writer's new session for the case epoch whose public key is `epochPublicKey`: a fresh ephemeral key pair,
    /// whose secret is wiped once the session key is derived.
    /// - Throws: `CryptoError` for a malformed or low-order epoch key.
    public static func start(caseID: [UInt8], epochPublicKey: [UInt8]) throws -> SenderSessionKey {
        let pair = try BoxKeyPair.generate()
        return try start(caseID: caseID, epochPublicKey: epochPublicKey, ephemeral: pair)
    }

    /// A writer's session from a given ephemeral key pair (known-answer tests; a writer never reuses one).
    /// - Throws: `CryptoError` for a malformed or low-order epoch key.
    public static func start(caseID: [UInt8], epochPublicKey: [UInt8], ephemeral: BoxKeyPair) throws
        -> SenderSessionKey
    {
        guard epochPublicKey.count == 32 else { throw CryptoError(.invalidLength, "an X25519 public key is 32 bytes") }
        let epochKeyID = Hashing.keyID(epochPublicKey)
        let id = sessionID(caseID: caseID, epochKeyID: epochKeyID, sessionPublicKey: ephemeral.publicKey)
        let key = try derive(
            secret: ephemeral.secretKey, peer: epochPublicKey, id: id, sessionPublicKey: ephemeral.publicKey,
            epochPublicKey: epochPublicKey)
        return SenderSessionKey(id: id, publicKey: ephemeral.publicKey, epochKeyID: epochKeyID, key: key)
    }

    /// A reader's view of a stored session: the session key from the epoch key pair and the stored session public
    /// key, after checking that `id` is the id those name (a swapped public key, or a session row moved to another
    /// case or epoch, is refused here).
    /// - Throws: `CryptoError.keyMismatch` when the id does not match; `.malformed` for a low-order public key.
    public static func open(id: [UInt8], caseID: [UInt8], epoch: BoxKeyPair, sessionPublicKey: [UInt8]) throws
        -> SenderSessionKey
    {
        guard sessionPublicKey.count == 32 else {
            throw CryptoError(.invalidLength, "a session public key is 32 bytes")
        }
        let epochKeyID = epoch.keyID
        let expected = sessionID(caseID: caseID, epochKeyID: epochKeyID, sessionPublicKey: sessionPublicKey)
        guard SecretBytes.constantTimeEquals(expected, id) else {
            throw CryptoError(.keyMismatch, "the session id does not name this case, epoch and session key")
        }
        let key = try derive(
            secret: epoch.secretKey, peer: sessionPublicKey, id: id, sessionPublicKey: sessionPublicKey,
            epochPublicKey: epoch.publicKey)
        return SenderSessionKey(id: id, publicKey: sessionPublicKey, epochKeyID: epochKeyID, key: key)
    }

    private static func derive(
        secret: SecretBytes, peer: [UInt8], id: [UInt8], sessionPublicKey: [UInt8], epochPublicKey: [UInt8]
    ) throws -> SecretBytes {
        try Sodium.ready()
        guard secret.count == 32 else { throw CryptoError(.invalidLength, "an X25519 secret key is 32 bytes") }
        var info = Canonical()
        info.append(keyLabel)
        info.append(id)
        info.append(sessionPublicKey)
        info.append(epochPublicKey)
        let message = info.bytes
        let key = try SecretBytes(zeroedCount: 32)
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { shared in
            let s = UnsafeMutableRawBufferPointer(shared)
            s.initializeMemory(as: UInt8.self, repeating: 0)
            defer { Sodium.wipe(s) }
            let rc = secret.withUnsafeBytes { sk in
                crypto_scalarmult(shared.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self), peer)
            }
            // libsodium refuses an all-zero result (a low-order point) with -1.
            try Sodium.check(rc, .malformed, "the key agreement failed (a low-order public key)")
            let hashed = key.withUnsafeMutableBytes { out in
                message.withUnsafeBufferPointer { m in
                    crypto_generichash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, m.baseAddress, UInt64(m.count),
                        shared.baseAddress!, 32)
                }
            }
            try Sodium.check(hashed, .malformed, "the session key derivation failed")
        }
        return key
    }

    /// The associated data of a message key's wrap: canon(label, the message's whole AAD).
    static func messageKeyAD(_ aad: [UInt8]) -> [UInt8] {
        var c = Canonical(capacity: 8 + messageKeyLabel.utf8.count + aad.count)
        c.append(messageKeyLabel)
        c.append(aad)
        return c.bytes
    }

    /// The associated data of a content key's wrap: canon(label, message id, epoch key id, session id).
    public func contentKeyAD(messageID: [UInt8]) -> [UInt8] {
        Canonical.encode([Array(Self.contentKeyLabel.utf8), messageID, epochKeyID, id])
    }

    /// Encrypts `plaintext` under a fresh message key K with `aad` and wraps K under the session key with
    /// canon("consultvault/message-key/v2", aad). K exists only in a stack buffer, wiped before this returns.
    /// - Returns: body = nonce ‖ ciphertext ‖ tag; key = nonce ‖ wrapped K ‖ tag (72 bytes).
    public func sealWithFreshKey(_ plaintext: [UInt8], aad: [UInt8]) throws -> (body: [UInt8], key: [UInt8]) {
        let n = AEAD.keyLength
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { buffer in
            let k = UnsafeMutableRawBufferPointer(buffer)
            try SecureRandom.fill(k)
            defer { Sodium.wipe(k) }
            let body = try AEAD.seal(plaintext, aad: aad, rawKey: UnsafeRawBufferPointer(k))
            let wrapped = try key.withUnsafeBytes { sessionKey in
                try AEAD.seal(raw: UnsafeRawBufferPointer(k), aad: Self.messageKeyAD(aad), rawKey: sessionKey)
            }
            return (body, wrapped)
        }
    }

    /// Seals with a given message key and nonces (known-answer tests only).
    public func seal(_ plaintext: [UInt8], aad: [UInt8], messageKey: SecretBytes, bodyNonce: [UInt8], keyNonce: [UInt8])
        throws -> (body: [UInt8], key: [UInt8])
    {
        let body = try AEAD.seal(plaintext, aad: aad, key: messageKey, nonce: bodyNonce)
        let wrapped = try messageKey.withUnsafeBytes { k in
            try key.withUnsafeBytes { sessionKey in
                try AEAD.seal(raw: k, aad: Self.messageKeyAD(aad), rawKey: sessionKey, nonce: keyNonce)
            }
        }
        return (body, wrapped)
    }

    /// Opens a v2 message: unwraps K (which must authenticate with the message's AAD) into a stack buffer and
    /// decrypts the body with it.
    /// - Throws: `CryptoError.decryptionFailed` when the wrap or the body does not authenticate (another session,
    ///   message, case or epoch, or any changed byte); `.invalidLength` for a wrap that is not 72 bytes.
    public func open(body: [UInt8], aad: [UInt8], key wrapped: [UInt8]) throws -> [UInt8] {
        try Sodium.ready()
        guard wrapped.count == Self.wrapLength else {
            throw CryptoError(.invalidLength, "a v2 message key is \(Self.wrapLength) bytes")
        }
        let ad = Self.messageKeyAD(aad)
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let k = UnsafeMutableRawBufferPointer(buffer)
            k.initializeMemory(as: UInt8.self, repeating: 0)
            defer { Sodium.wipe(k) }
            var length: UInt64 = 0
            let rc = key.withUnsafeBytes { sessionKey in
                wrapped.withUnsafeBufferPointer { w in
                    ad.withUnsafeBufferPointer { a in
                        crypto_aead_xchacha20poly1305_ietf_decrypt(
                            buffer.baseAddress!, &length, nil, w.baseAddress! + 24, UInt64(w.count - 24),
                            a.baseAddress, UInt64(a.count), w.baseAddress!,
                            sessionKey.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            try Sodium.check(rc, .decryptionFailed, "the message key does not authenticate in this session")
            return try AEAD.open(body, aad: aad, rawKey: UnsafeRawBufferPointer(k))
        }
    }

    /// Wraps a secret (an attachment's stream key) under the session key with `ad`.
    /// - Returns: nonce ‖ ciphertext ‖ tag.
    public func wrap(_ secret: SecretBytes, ad: [UInt8]) throws -> [UInt8] {
        try secret.withUnsafeBytes { s in
            try key.withUnsafeBytes { sessionKey in try AEAD.seal(raw: s, aad: ad, rawKey: sessionKey) }
        }
    }

    /// Opens a secret wrapped with `wrap(_:ad:)`.
    /// - Throws: `CryptoError.decryptionFailed` when it does not authenticate with `ad` in this session.
    public func unwrap(_ wrapped: [UInt8], ad: [UInt8]) throws -> SecretBytes {
        var plain = try key.withUnsafeBytes { try AEAD.open(wrapped, aad: ad, rawKey: $0) }
        defer { SecretBytes.wipe(&plain) }
        return try SecretBytes(copying: plain, transient: true)
    }
}
