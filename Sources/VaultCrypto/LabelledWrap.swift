internal import CSodium

/// Labelled key wraps: `crypto_box_seal(canonical(label, scope, key id, secret), recipient)`.
/// The label names the kind of key, the scope what it belongs to (desk, case, message, vault), the key id
/// which key it is; a wrap can therefore never be replayed as another kind of key (schema/FORMAT.md §3).
public enum LabelledWrap {
    public enum Label: String, Sendable, CaseIterable {
        case deskQueue = "consultvault/desk-queue/v1"
        case deskOversight = "consultvault/desk-oversight/v1"
        case caseEpoch = "consultvault/case-epoch/v1"
        case messageKey = "consultvault/message-key/v1"
        case auditors = "consultvault/auditors/v1"
        case recovery = "consultvault/recovery/v1"
        case contentKey = "consultvault/content-key/v1"
    }

    /// Seals `secret` for `recipientPublicKey`.
    public static func seal(
        _ secret: SecretBytes, label: Label, scope: [UInt8], keyID: [UInt8], to recipientPublicKey: [UInt8]
    ) throws -> [UInt8] {
        var blob = try plaintext(secret, label: label, scope: scope, keyID: keyID)
        defer { SecretBytes.wipe(&blob) }
        return try SealedBox.seal(blob, to: recipientPublicKey)
    }

    /// The labelled plaintext (exposed for known-answer tests).
    public static func plaintext(_ secret: SecretBytes, label: Label, scope: [UInt8], keyID: [UInt8]) throws -> [UInt8]
    {
        var c = Canonical()
        c.append(label.rawValue)
        c.append(scope)
        c.append(keyID)
        var bytes = c.bytes
        let n = UInt32(secret.count)
        bytes += Canonical.u32(n)
        secret.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Opens a wrap and checks label, scope and key id; returns the secret.
    /// - Throws: `CryptoError.decryptionFailed` (not ours), `.wrongLabel` (another kind, scope or key).
    public static func open(
        _ sealed: [UInt8], with recipient: BoxKeyPair, label: Label, scope: [UInt8], keyID: [UInt8]
    ) throws -> SecretBytes {
        let plain = try SealedBox.open(sealed, with: recipient)
        var bytes = plain.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        var fields = try Canonical.decode(bytes)
        defer {
            for i in fields.indices { SecretBytes.wipe(&fields[i]) }
        }
        guard fields.count == 4 else { throw CryptoError(.malformed, "a labelled wrap has four fields") }
        guard fields[0] == Array(label.rawValue.utf8) else {
            throw CryptoError(.wrongLabel, "wrap label is not \(label.rawValue)")
        }
        guard fields[1] == scope else { throw CryptoError(.wrongLabel, "wrap belongs to another scope") }
        guard fields[2] == keyID else { throw CryptoError(.wrongLabel, "wrap holds another key") }
        return try SecretBytes(copying: fields[3], transient: true)
    }

    /// Opens a wrapped X25519 secret and checks the recomputed public key against the key id.
    public static func openBoxKey(
        _ sealed: [UInt8], with recipient: BoxKeyPair, label: Label, scope: [UInt8], keyID: [UInt8]
    ) throws -> BoxKeyPair {
        let secret = try open(sealed, with: recipient, label: label, scope: scope, keyID: keyID)
        return try BoxKeyPair(secretKey: secret, expectedKeyID: keyID)
    }
}

extension LabelledWrap {
    /// Encrypts `plaintext` (XChaCha20-Poly1305, random nonce, `aad`) under a fresh random 32-byte key and returns
    /// the box together with that key wrapped as `seal(key, label:scope:keyID:to:)` would. The key exists only in a
    /// stack buffer inside this call, wiped before it returns: a per-message key needs no guarded heap pages
    /// (sodium_malloc's mmap/mprotect/mlock per message cost about a tenth of ingest CPU).
    /// - Throws: `CryptoError` on a wrong recipient key size or a failed primitive.
    public static func sealWithFreshKey(
        _ plaintext: [UInt8], aad: [UInt8], label: Label, scope: [UInt8], keyID: [UInt8], to recipient: [UInt8]
    ) throws -> (body: [UInt8], key: [UInt8]) {
        let n = AEAD.keyLength
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { key in
            let k = UnsafeMutableRawBufferPointer(key)
            try SecureRandom.fill(k)
            defer { Sodium.wipe(k) }
            let body = try AEAD.seal(plaintext, aad: aad, rawKey: UnsafeRawBufferPointer(k))
            var c = Canonical()
            c.append(label.rawValue)
            c.append(scope)
            c.append(keyID)
            var blob = c.bytes
            defer { SecretBytes.wipe(&blob) }
            blob += Canonical.u32(UInt32(n))
            blob.append(contentsOf: UnsafeRawBufferPointer(k))
            return (body, try SealedBox.seal(blob, to: recipient))
        }
    }

    /// The counterpart of `sealWithFreshKey`: opens the wrapped key into a stack buffer, checks label, scope and key
    /// id in place, and decrypts `body` (nonce ‖ ciphertext ‖ tag) with it. The key never reaches the heap and is
    /// wiped before this returns; nothing is allocated but the plaintext (a transcript page opens 1,000 of these).
    /// - Throws: `CryptoError.decryptionFailed` (the wrap is not for this key, or the body or AAD do not
    ///   authenticate), `.wrongLabel` (another kind, scope or key), `.malformed` (not four canonical fields of the
    ///   expected lengths), `.invalidLength` (a body shorter than nonce and tag).
    public static func openWithWrappedKey(
        body: [UInt8], aad: [UInt8], wrap sealed: [UInt8], with recipient: BoxKeyPair, label: Label, scope: [UInt8],
        keyID: [UInt8]
    ) throws -> [UInt8] {
        try Sodium.ready()
        let overhead = SealedBox.overhead
        let n = AEAD.keyLength
        let labelBytes = label.rawValue.utf8
        // The exact length of canon(label, scope, key id, 32-byte key): anything else is refused before opening.
        let expected = 16 + labelBytes.count + scope.count + keyID.count + n
        guard sealed.count == overhead + expected else {
            throw CryptoError(.malformed, "a \(label.rawValue) wrap is \(overhead + expected) bytes")
        }
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: expected) { plain in
            let w = UnsafeMutableRawBufferPointer(plain)
            w.initializeMemory(as: UInt8.self, repeating: 0)
            defer { Sodium.wipe(w) }
            let opened = recipient.secretKey.withUnsafeBytes { sk in
                sealed.withUnsafeBufferPointer { c in
                    crypto_box_seal_open(
                        plain.baseAddress!, c.baseAddress!, UInt64(c.count), recipient.publicKey,
                        sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            try Sodium.check(opened, .decryptionFailed, "sealed box does not open with this key")
            // Parse canon(label, scope, key id, key) in place (schema/FORMAT.md §0.2, §2).
            var offset = 0
            func field(_ count: Int) throws -> UnsafeRawBufferPointer {
                let length =
                    Int(w[offset]) << 24 | Int(w[offset + 1]) << 16 | Int(w[offset + 2]) << 8 | Int(w[offset + 3])
                guard length == count else { throw CryptoError(.malformed, "a wrap field has the wrong length") }
                defer { offset += 4 + count }
                return UnsafeRawBufferPointer(rebasing: w[(offset + 4)..<(offset + 4 + count)])
            }
            guard try field(labelBytes.count).elementsEqual(labelBytes) else {
                throw CryptoError(.wrongLabel, "wrap label is not \(label.rawValue)")
            }
            guard try field(scope.count).elementsEqual(scope) else {
                throw CryptoError(.wrongLabel, "wrap belongs to another scope")
            }
            guard try field(keyID.count).elementsEqual(keyID) else {
                throw CryptoError(.wrongLabel, "wrap holds another key")
            }
            let key = try field(n)
            return try AEAD.open(body, aad: aad, rawKey: key)
        }
    }
}
