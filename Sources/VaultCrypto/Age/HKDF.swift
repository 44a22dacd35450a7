internal import CSodium

/// HMAC-SHA-256 (crypto_auth_hmacsha256, any key length), one message fed in parts.
struct HMACSHA256 {
    private var state = crypto_auth_hmacsha256_state()

    init(key: UnsafeRawBufferPointer) {
        var empty: UInt8 = 0
        if let base = key.baseAddress, key.count > 0 {
            _ = crypto_auth_hmacsha256_init(&state, base.assumingMemoryBound(to: UInt8.self), key.count)
        } else {
            _ = crypto_auth_hmacsha256_init(&state, &empty, 0)
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = crypto_auth_hmacsha256_update(&state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte tag; the state is wiped.
    mutating func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_bytes()))
        crypto_auth_hmacsha256_final(&state, &out)
        withUnsafeMutableBytes(of: &state) { Sodium.wipe($0) }
        return out
    }
}

/// HKDF-SHA-256 (RFC 5869) on HMACSHA256, as age derives its wrap, header and payload keys.
enum HKDF {
    /// Extract with `salt` (empty: HMAC pads the empty key to the 32 zero bytes RFC 5869 asks for), expand with
    /// `info` to `length` bytes (at most 255 × 32). The result is secret.
    static func derive(ikm: UnsafeRawBufferPointer, salt: [UInt8], info: String, length: Int) throws -> SecretBytes {
        try Sodium.ready()
        precondition(length > 0 && length <= 255 * 32)
        var extract = salt.withUnsafeBytes { HMACSHA256(key: $0) }
        extract.update(ikm)
        var prk = extract.finish()
        defer { SecretBytes.wipe(&prk) }
        let out = try SecretBytes(zeroedCount: length, transient: true)
        var block: [UInt8] = []
        defer { SecretBytes.wipe(&block) }
        var produced = 0
        var counter: UInt8 = 1
        while produced < length {
            var expand = prk.withUnsafeBytes { HMACSHA256(key: $0) }
            expand.update(block)
            expand.update(Array(info.utf8))
            expand.update([counter])
            SecretBytes.wipe(&block)
            block = expand.finish()
            let n = min(block.count, length - produced)
            out.withUnsafeMutableBytes { o in
                block.withUnsafeBytes { (o.baseAddress! + produced).copyMemory(from: $0.baseAddress!, byteCount: n) }
            }
            produced += n
            counter &+= 1
        }
        return out
    }
}
