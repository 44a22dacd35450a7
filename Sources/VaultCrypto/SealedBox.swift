internal import CSodium

/// Anonymous sealed boxes (crypto_box_seal): encrypt to an X25519 public key.
public enum SealedBox {
    /// Seals `plaintext` to `publicKey`.
    /// - Throws: `CryptoError.invalidLength` for a public key of the wrong size.
    public static func seal(_ plaintext: [UInt8], to publicKey: [UInt8]) throws -> [UInt8] {
        try Sodium.ready()
        guard publicKey.count == Int(crypto_box_publickeybytes()) else {
            throw CryptoError(.invalidLength, "an X25519 public key is 32 bytes")
        }
        var out = [UInt8](repeating: 0, count: plaintext.count + Int(crypto_box_sealbytes()))
        let rc = plaintext.withUnsafeBufferPointer {
            crypto_box_seal(&out, $0.baseAddress, UInt64($0.count), publicKey)
        }
        try Sodium.check(rc, .malformed, "crypto_box_seal failed")
        return out
    }

    /// Seals secret bytes without copying them into ordinary memory.
    public static func seal(_ secret: SecretBytes, to publicKey: [UInt8]) throws -> [UInt8] {
        try Sodium.ready()
        guard publicKey.count == Int(crypto_box_publickeybytes()) else {
            throw CryptoError(.invalidLength, "an X25519 public key is 32 bytes")
        }
        var out = [UInt8](repeating: 0, count: secret.count + Int(crypto_box_sealbytes()))
        let rc = secret.withUnsafeBytes {
            crypto_box_seal(&out, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64($0.count), publicKey)
        }
        try Sodium.check(rc, .malformed, "crypto_box_seal failed")
        return out
    }

    /// Opens a sealed box into protected memory.
    /// - Throws: `CryptoError.decryptionFailed` when the box was not sealed to this key or was altered.
    public static func open(_ sealed: [UInt8], with keyPair: BoxKeyPair) throws -> SecretBytes {
        try Sodium.ready()
        let overhead = Int(crypto_box_sealbytes())
        guard sealed.count > overhead else { throw CryptoError(.invalidLength, "sealed box too short") }
        let out = try SecretBytes(zeroedCount: sealed.count - overhead, transient: true)
        let rc = out.withUnsafeMutableBytes { o in
            keyPair.secretKey.withUnsafeBytes { sk in
                sealed.withUnsafeBufferPointer { c in
                    crypto_box_seal_open(
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self), c.baseAddress!, UInt64(c.count),
                        keyPair.publicKey,
                        sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        try Sodium.check(rc, .decryptionFailed, "sealed box does not open with this key")
        return out
    }

    public static var overhead: Int { Int(crypto_box_sealbytes()) }
}

/// XChaCha20-Poly1305 (IETF) with associated data. Output layout: nonce (24) ‖ ciphertext ‖ tag (16).
public enum AEAD {
    public static var keyLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_keybytes()) }
    public static var nonceLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_npubbytes()) }
    public static var tagLength: Int { Int(crypto_aead_xchacha20poly1305_ietf_abytes()) }

    /// Encrypts with a fresh random nonce.
    public static func seal(_ plaintext: [UInt8], aad: [UInt8], key: SecretBytes) throws -> [UInt8] {
        try seal(plaintext, aad: aad, key: key, nonce: SecureRandom.bytes(nonceLength))
    }

    /// Encrypts with a caller-chosen nonce (known-answer tests only; never reuse a nonce under one key).
    public static func seal(_ plaintext: [UInt8], aad: [UInt8], key: SecretBytes, nonce: [UInt8]) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "an AEAD key is 32 bytes") }
        guard nonce.count == nonceLength else { throw CryptoError(.invalidLength, "an XChaCha20 nonce is 24 bytes") }
        var out = nonce + [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var clen: UInt64 = 0
        let rc = out.withUnsafeMutableBufferPointer { o in
            key.withUnsafeBytes { k in
                plaintext.withUnsafeBufferPointer { p in
                    aad.withUnsafeBufferPointer { a in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            o.baseAddress! + nonceLength, &clen, p.baseAddress, UInt64(p.count), a.baseAddress,
                            UInt64(a.count),
                            nil, nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        try Sodium.check(rc, .malformed, "AEAD encryption failed")
        return out
    }

    /// Encrypts with a fresh random nonce under a key lent as raw bytes (a transient key the caller wipes).
    static func seal(_ plaintext: [UInt8], aad: [UInt8], rawKey key: UnsafeRawBufferPointer) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal(raw: $0, aad: aad, rawKey: key) }
    }

    /// Encrypts plaintext lent as raw bytes (a transient secret, never copied to the heap) under a raw key, with a
    /// fresh random nonce, or `nonce` (known-answer tests only).
    static func seal(
        raw plaintext: UnsafeRawBufferPointer, aad: [UInt8], rawKey key: UnsafeRawBufferPointer, nonce: [UInt8]? = nil
    ) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "an AEAD key is 32 bytes") }
        let nonce = nonce ?? SecureRandom.bytes(nonceLength)
        guard nonce.count == nonceLength else { throw CryptoError(.invalidLength, "an XChaCha20 nonce is 24 bytes") }
        var out = nonce + [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var clen: UInt64 = 0
        let rc = out.withUnsafeMutableBufferPointer { o in
            aad.withUnsafeBufferPointer { a in
                crypto_aead_xchacha20poly1305_ietf_encrypt(
                    o.baseAddress! + nonceLength, &clen, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    UInt64(plaintext.count), a.baseAddress, UInt64(a.count), nil, nonce,
                    key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try Sodium.check(rc, .malformed, "AEAD encryption failed")
        return out
    }

    /// Decrypts and authenticates; the plaintext is returned in ordinary memory (message content).
    /// - Throws: `CryptoError.decryptionFailed` when the key, AAD or ciphertext do not match.
    public static func open(_ box: [UInt8], aad: [UInt8], key: SecretBytes) throws -> [UInt8] {
        try Sodium.ready()
        return try key.withUnsafeBytes { try open(box, aad: aad, rawKey: $0) }
    }

    /// Decrypts under a key lent as raw bytes (a transient key the caller wipes).
    /// - Throws: `CryptoError.decryptionFailed` when the key, AAD or ciphertext do not match.
    static func open(_ box: [UInt8], aad: [UInt8], rawKey key: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "an AEAD key is 32 bytes") }
        guard box.count >= nonceLength + tagLength else { throw CryptoError(.invalidLength, "AEAD box too short") }
        var out = [UInt8](repeating: 0, count: box.count - nonceLength - tagLength)
        var mlen: UInt64 = 0
        let rc = box.withUnsafeBufferPointer { b in
            aad.withUnsafeBufferPointer { a in
                crypto_aead_xchacha20poly1305_ietf_decrypt(
                    &out, &mlen, nil, b.baseAddress! + nonceLength, UInt64(b.count - nonceLength), a.baseAddress,
                    UInt64(a.count), b.baseAddress!, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try Sodium.check(rc, .decryptionFailed, "AEAD authentication failed")
        return out
    }

    /// Decrypts into protected memory (for wrapped secrets).
    public static func openSecret(_ box: [UInt8], aad: [UInt8], key: SecretBytes) throws -> SecretBytes {
        var plain = try open(box, aad: aad, key: key)
        defer { SecretBytes.wipe(&plain) }
        return try SecretBytes(copying: plain, transient: true)
    }
}
