internal import CSodium

/// Secret key material in `sodium_malloc` memory: guarded pages, locked where the OS allows,
/// wiped and freed on deinit. Never `Codable`, prints as `<redacted>`, compares in constant time.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let pointer: UnsafeMutableRawPointer
    /// Number of secret bytes.
    public let count: Int

    /// Allocates `count` zeroed bytes.
    /// - Throws: `CryptoError.outOfMemory` when sodium_malloc fails.
    public init(zeroedCount count: Int) throws {
        try Sodium.ready()
        guard count > 0, let p = sodium_malloc(count) else {
            throw CryptoError(.outOfMemory, "could not allocate protected memory")
        }
        sodium_memzero(p, count)
        self.pointer = p
        self.count = count
    }

    /// Fresh random secret bytes.
    public static func random(count: Int) throws -> SecretBytes {
        let s = try SecretBytes(zeroedCount: count)
        randombytes_buf(s.pointer, count)
        return s
    }

    /// Copies bytes into protected memory. The caller stays responsible for wiping its own copy.
    public convenience init(copying bytes: [UInt8]) throws {
        let n = bytes.count
        try self.init(zeroedCount: max(n, 1))
        if n == 0 { throw CryptoError(.invalidLength, "a secret cannot be empty") }
        bytes.withUnsafeBytes { src in
            self.pointer.copyMemory(from: src.baseAddress!, byteCount: n)
        }
    }

    /// Copies bytes into protected memory and wipes the source array.
    public convenience init(consuming bytes: inout [UInt8]) throws {
        defer { SecretBytes.wipe(&bytes) }
        try self.init(copying: bytes)
    }

    deinit {
        sodium_free(pointer)  // sodium_free wipes before releasing
    }

    /// Lends the bytes read-only for the duration of `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Lends the bytes writable for the duration of `body` (used to fill a fresh secret).
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Constant-time equality (sodium_memcmp).
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard other.count == count else { return false }
        return sodium_memcmp(pointer, other.pointer, count) == 0
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Overwrites a plain array with zeros (sodium_memzero) — for transient copies.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }

    /// Constant-time comparison of two public byte strings of equal length.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}
