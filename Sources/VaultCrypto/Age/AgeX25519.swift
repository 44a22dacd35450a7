internal import CSodium

/// The X25519 recipient stanza of age-encryption.org/v1:
/// `-> X25519 base64(ephemeral share)` then base64(ChaCha20-Poly1305(wrap key, zero nonce, file key)), where
/// wrap key = HKDF-SHA-256(ikm: X25519(e, R), salt: share ‖ R, info: "age-encryption.org/v1/X25519").
enum AgeX25519 {
    static let label = "age-encryption.org/v1/X25519"

    /// Wraps the 16-byte file key to `recipient`.
    static func wrap(fileKey: SecretBytes, to recipient: AgeRecipient) throws -> AgeStanza {
        let ephemeral = try SecretBytes.random(count: 32, transient: true)
        var share = [UInt8](repeating: 0, count: 32)
        var rc = ephemeral.withUnsafeBytes {
            crypto_scalarmult_base(&share, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try Sodium.check(rc, .malformed, "crypto_scalarmult_base failed")
        let shared = try SecretBytes(zeroedCount: 32, transient: true)
        rc = shared.withUnsafeMutableBytes { s in
            ephemeral.withUnsafeBytes { e in
                crypto_scalarmult(
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    e.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    recipient.publicKey)
            }
        }
        try Sodium.check(rc, .malformed, "the recipient is a low-order point")
        let key = try shared.withUnsafeBytes {
            try HKDF.derive(ikm: $0, salt: share + recipient.publicKey, info: label, length: 32)
        }
        let body = try AgeAEAD.seal(fileKey, key: key)
        return AgeStanza(arguments: ["X25519", String(decoding: AgeBase64.encode(share), as: UTF8.self)], body: body)
    }

    /// Opens an X25519 stanza with one identity: the file key, or nil when the stanza is for someone else.
    /// - Throws: `AgeError.header` for a malformed stanza or a low-order share.
    static func unwrap(_ stanza: AgeStanza, identity: AgeIdentity) throws -> SecretBytes? {
        guard stanza.arguments.count == 2 else { throw AgeError(.header, "an X25519 stanza has one argument") }
        guard let share = AgeBase64.decode(ArraySlice(stanza.arguments[1].utf8)), share.count == 32 else {
            throw AgeError(.header, "an X25519 share is 32 bytes in canonical base64")
        }
        guard stanza.body.count == 32 else { throw AgeError(.header, "an X25519 stanza body is 32 bytes") }
        let shared = try SecretBytes(zeroedCount: 32, transient: true)
        let rc = shared.withUnsafeMutableBytes { s in
            identity.secretKey.withUnsafeBytes { k in
                crypto_scalarmult(
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    share)
            }
        }
        guard rc == 0 else { throw AgeError(.header, "an X25519 share is a low-order point") }
        let key = try shared.withUnsafeBytes {
            try HKDF.derive(ikm: $0, salt: share + identity.recipient.publicKey, info: label, length: 32)
        }
        return try? AgeAEAD.open(stanza.body, key: key)
    }
}

/// ChaCha20-Poly1305 (IETF, crypto_aead_chacha20poly1305_ietf_*) with a zero nonce, for a stanza body.
enum AgeAEAD {
    static func seal(_ secret: SecretBytes, key: SecretBytes) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: secret.count + 16)
        var outLength: UInt64 = 0
        let nonce = [UInt8](repeating: 0, count: 12)
        let rc = secret.withUnsafeBytes { m in
            key.withUnsafeBytes { k in
                crypto_aead_chacha20poly1305_ietf_encrypt(
                    &out, &outLength, m.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(m.count), nil, 0, nil,
                    nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try Sodium.check(rc, .malformed, "ChaCha20-Poly1305 seal failed")
        return out
    }

    static func open(_ box: [UInt8], key: SecretBytes) throws -> SecretBytes {
        guard box.count > 16 else { throw CryptoError(.invalidLength, "stanza body too short") }
        let out = try SecretBytes(zeroedCount: box.count - 16)
        var outLength: UInt64 = 0
        let nonce = [UInt8](repeating: 0, count: 12)
        let rc = out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    o.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLength, nil, box, UInt64(box.count), nil, 0,
                    nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try Sodium.check(rc, .decryptionFailed, "stanza body does not open")
        return out
    }
}
