internal import CSodium

/// BLAKE2b (crypto_generichash), plain and keyed, and SHA-256 where a format demands it.
public enum Hashing {
    /// Unkeyed BLAKE2b with `outputLength` bytes (16…64).
    public static func blake2b(_ data: [UInt8], outputLength: Int = 32) -> [UInt8] {
        precondition(
            outputLength >= Int(crypto_generichash_bytes_min()) && outputLength <= Int(crypto_generichash_bytes_max()))
        _ = try? Sodium.ready()
        var out = [UInt8](repeating: 0, count: outputLength)
        let rc = data.withUnsafeBufferPointer { d in
            crypto_generichash(&out, outputLength, d.baseAddress, UInt64(d.count), nil, 0)
        }
        precondition(rc == 0, "crypto_generichash failed")
        return out
    }

    /// Incremental BLAKE2b-256 of several parts (avoids concatenating large buffers).
    public static func blake2b(parts: [[UInt8]], outputLength: Int = 32) -> [UInt8] {
        _ = try? Sodium.ready()
        // crypto_generichash_state is 64-byte aligned and imports as opaque: allocate it by size.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer { raw.deallocate() }
        let state = OpaquePointer(raw)
        var out = [UInt8](repeating: 0, count: outputLength)
        crypto_generichash_init(state, nil, 0, outputLength)
        for p in parts {
            p.withUnsafeBufferPointer { _ = crypto_generichash_update(state, $0.baseAddress, UInt64($0.count)) }
        }
        crypto_generichash_final(state, &out, outputLength)
        return out
    }

    /// Keyed BLAKE2b-256 (a PRF): used for pseudonymous routing ids.
    /// - Throws: `CryptoError.invalidLength` for a key outside 16…64 bytes.
    public static func keyedBlake2b(_ data: [UInt8], key: SecretBytes, outputLength: Int = 32) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count >= Int(crypto_generichash_keybytes_min()), key.count <= Int(crypto_generichash_keybytes_max())
        else {
            throw CryptoError(.invalidLength, "keyed hash key must be 16…64 bytes")
        }
        var out = [UInt8](repeating: 0, count: outputLength)
        let rc = key.withUnsafeBytes { k in
            data.withUnsafeBufferPointer { d in
                crypto_generichash(
                    &out, outputLength, d.baseAddress, UInt64(d.count),
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
            }
        }
        try Sodium.check(rc, .malformed, "keyed hash failed")
        return out
    }

    /// SHA-256 (only for the C2SP key hash).
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        _ = try? Sodium.ready()
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_bytes()))
        _ = data.withUnsafeBufferPointer { crypto_hash_sha256(&out, $0.baseAddress, UInt64($0.count)) }
        return out
    }

    /// HMAC-SHA256 (LINE's webhook signature). Compare results with `SecretBytes.constantTimeEquals`.
    public static func hmacSHA256(_ data: [UInt8], key: SecretBytes) -> [UInt8] {
        _ = try? Sodium.ready()
        var state = crypto_auth_hmacsha256_state()
        var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_bytes()))
        key.withUnsafeBytes { k in
            _ = crypto_auth_hmacsha256_init(&state, k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        data.withUnsafeBufferPointer { _ = crypto_auth_hmacsha256_update(&state, $0.baseAddress, UInt64($0.count)) }
        crypto_auth_hmacsha256_final(&state, &out)
        return out
    }

    /// Key id of a public key: unkeyed 16-byte BLAKE2b.
    public static func keyID(_ publicKey: [UInt8]) -> [UInt8] { blake2b(publicKey, outputLength: 16) }
}

/// Incremental BLAKE2b for large inputs (backup archives): update in chunks, then finish once.
public final class Blake2bStream {
    private let state: UnsafeMutableRawPointer
    private let outputLength: Int
    private var finished = false

    public init(outputLength: Int = 32) {
        _ = try? Sodium.ready()
        self.outputLength = outputLength
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        crypto_generichash_init(OpaquePointer(state), nil, 0, outputLength)
    }

    deinit { state.deallocate() }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "Blake2bStream used after finish")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        crypto_generichash_update(OpaquePointer(state), base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func finish() -> [UInt8] {
        finished = true
        var out = [UInt8](repeating: 0, count: outputLength)
        crypto_generichash_final(OpaquePointer(state), &out, outputLength)
        return out
    }
}
