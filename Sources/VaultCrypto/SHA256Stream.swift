internal import CSodium

/// Incremental SHA-256 (crypto_hash_sha256_*) for files hashed as they are written (package manifests).
public final class SHA256Stream: @unchecked Sendable {
    private var state = crypto_hash_sha256_state()

    public init() {
        _ = try? Sodium.ready()
        crypto_hash_sha256_init(&state)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { _ = crypto_hash_sha256_update(&state, $0.baseAddress, UInt64($0.count)) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        crypto_hash_sha256_update(&state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// The 32-byte digest.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_bytes()))
        crypto_hash_sha256_final(&state, &out)
        return out
    }
}
