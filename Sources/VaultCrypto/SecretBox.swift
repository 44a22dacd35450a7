internal import CSodium

/// Authenticated secret-key encryption (crypto_secretbox: XSalsa20-Poly1305) for small secrets the vault
/// must use with nobody unlocked (LINE channel secrets under `keys/vault-box.key`).
/// Output layout: nonce (24) ‖ crypto_secretbox_easy ciphertext (MAC 16 ‖ encrypted bytes).
public enum SecretBox {
    public static var keyLength: Int { Int(crypto_secretbox_keybytes()) }
    public static var nonceLength: Int { Int(crypto_secretbox_noncebytes()) }
    public static var macLength: Int { Int(crypto_secretbox_macbytes()) }

    /// Seals secret bytes under `key` with a fresh random nonce.
    /// - Throws: `CryptoError.invalidLength` for a key that is not 32 bytes.
    public static func seal(_ secret: SecretBytes, key: SecretBytes) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "a secretbox key is 32 bytes") }
        let nonce = SecureRandom.bytes(nonceLength)
        var out = nonce + [UInt8](repeating: 0, count: secret.count + macLength)
        let rc = out.withUnsafeMutableBufferPointer { o in
            secret.withUnsafeBytes { m in
                key.withUnsafeBytes { k in
                    crypto_secretbox_easy(
                        o.baseAddress! + nonceLength, m.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        UInt64(m.count), nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        try Sodium.check(rc, .malformed, "crypto_secretbox_easy failed")
        return out
    }

    /// Opens a box into protected memory.
    /// - Throws: `CryptoError.decryptionFailed` when the key is wrong or the box was altered.
    public static func open(_ box: [UInt8], key: SecretBytes) throws -> SecretBytes {
        try Sodium.ready()
        guard key.count == keyLength else { throw CryptoError(.invalidLength, "a secretbox key is 32 bytes") }
        guard box.count > nonceLength + macLength else { throw CryptoError(.invalidLength, "secretbox too short") }
        let out = try SecretBytes(zeroedCount: box.count - nonceLength - macLength)
        let rc = out.withUnsafeMutableBytes { o in
            box.withUnsafeBufferPointer { b in
                key.withUnsafeBytes { k in
                    crypto_secretbox_open_easy(
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self), b.baseAddress! + nonceLength,
                        UInt64(b.count - nonceLength), b.baseAddress!,
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        try Sodium.check(rc, .decryptionFailed, "secretbox does not open with this key")
        return out
    }
}

/// crypto_secretstream_xchacha20poly1305: a long byte stream encrypted in chunks, each authenticated, in
/// order, with the last one tagged FINAL (so truncation, reordering and splicing are detected).
public enum SecretStream {
    public static var keyLength: Int { Int(crypto_secretstream_xchacha20poly1305_keybytes()) }
    public static var headerLength: Int { Int(crypto_secretstream_xchacha20poly1305_headerbytes()) }
    /// Bytes added to every chunk (1 tag byte + 16 MAC bytes).
    public static var overhead: Int { Int(crypto_secretstream_xchacha20poly1305_abytes()) }

    /// Encrypting side. Not thread-safe; one stream per instance.
    public final class Pusher: @unchecked Sendable {
        private let state: UnsafeMutableRawPointer
        /// The stream header (24 bytes), stored before the first chunk.
        public let header: [UInt8]

        /// Starts a stream under `key` (32 bytes).
        /// - Throws: `CryptoError.invalidLength` for a wrong key size.
        public init(key: SecretBytes) throws {
            try Sodium.ready()
            guard key.count == SecretStream.keyLength else {
                throw CryptoError(.invalidLength, "a secretstream key is 32 bytes")
            }
            guard let s = sodium_malloc(crypto_secretstream_xchacha20poly1305_statebytes()) else {
                throw CryptoError(.outOfMemory, "could not allocate protected memory")
            }
            state = s
            var h = [UInt8](repeating: 0, count: SecretStream.headerLength)
            let rc = key.withUnsafeBytes { k in
                crypto_secretstream_xchacha20poly1305_init_push(
                    s.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self), &h,
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            header = h
            if rc != 0 {
                sodium_free(s)
                throw CryptoError(.malformed, "crypto_secretstream init_push failed")
            }
        }

        deinit { sodium_free(state) }

        /// Encrypts one chunk; `final` marks the last one (TAG_FINAL), otherwise TAG_MESSAGE.
        public func push(_ chunk: UnsafeRawBufferPointer, aad: [UInt8], final: Bool) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: chunk.count + SecretStream.overhead)
            let tag =
                final
                ? crypto_secretstream_xchacha20poly1305_tag_final()
                : crypto_secretstream_xchacha20poly1305_tag_message()
            let rc = aad.withUnsafeBufferPointer { a in
                crypto_secretstream_xchacha20poly1305_push(
                    state.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self), &out, nil,
                    chunk.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    UInt64(chunk.count), a.baseAddress, UInt64(a.count), tag)
            }
            try Sodium.check(rc, .malformed, "crypto_secretstream push failed")
            return out
        }
    }

    /// Decrypting side. Not thread-safe; one stream per instance.
    public final class Puller: @unchecked Sendable {
        private let state: UnsafeMutableRawPointer

        /// Starts reading a stream with its `header` under `key`.
        /// - Throws: `CryptoError.decryptionFailed` for a bad header; `.invalidLength` for wrong sizes.
        public init(key: SecretBytes, header: [UInt8]) throws {
            try Sodium.ready()
            guard key.count == SecretStream.keyLength, header.count == SecretStream.headerLength else {
                throw CryptoError(.invalidLength, "a secretstream key is 32 bytes and its header 24")
            }
            guard let s = sodium_malloc(crypto_secretstream_xchacha20poly1305_statebytes()) else {
                throw CryptoError(.outOfMemory, "could not allocate protected memory")
            }
            state = s
            let rc = key.withUnsafeBytes { k in
                crypto_secretstream_xchacha20poly1305_init_pull(
                    s.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self), header,
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            if rc != 0 {
                sodium_free(s)
                throw CryptoError(.decryptionFailed, "secretstream header does not open")
            }
        }

        deinit { sodium_free(state) }

        /// Decrypts one chunk; returns its plaintext and whether it carried TAG_FINAL.
        /// - Throws: `CryptoError.decryptionFailed` when the chunk was altered, reordered or is from another stream.
        public func pull(_ chunk: [UInt8], aad: [UInt8]) throws -> (plaintext: [UInt8], final: Bool) {
            guard chunk.count >= SecretStream.overhead else { throw CryptoError(.invalidLength, "chunk too short") }
            var out = [UInt8](repeating: 0, count: chunk.count - SecretStream.overhead)
            var tag: UInt8 = 0
            let rc = aad.withUnsafeBufferPointer { a in
                crypto_secretstream_xchacha20poly1305_pull(
                    state.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self), &out, nil, &tag,
                    chunk, UInt64(chunk.count), a.baseAddress, UInt64(a.count))
            }
            try Sodium.check(rc, .decryptionFailed, "a content chunk does not authenticate")
            return (out, tag == crypto_secretstream_xchacha20poly1305_tag_final())
        }
    }
}
