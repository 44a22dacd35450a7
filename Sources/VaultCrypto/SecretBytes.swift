internal import CSodium

/// Secret key material in `sodium_malloc` memory: guarded pages, locked where the OS allows,
/// wiped and freed on deinit. Never `Codable`, prints as `<redacted>`, compares in constant time.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let pointer: UnsafeMutableRawPointer
    /// Number of secret bytes.
    public let count: Int
    /// Whether the bytes sit in sodium_malloc memory (guard pages, mlock) or in ordinary memory that is
    /// still wiped on deinit. Per-message keys that live for microseconds use the latter: sodium_malloc costs
    /// several system calls (mmap, mprotect, mlock, munmap) per allocation.
    public let isProtected: Bool

    /// Allocates `count` zeroed bytes, in sodium_malloc memory unless `transient`.
    /// - Throws: `CryptoError.outOfMemory` when the allocation fails.
    public init(zeroedCount count: Int, transient: Bool = false) throws {
        try Sodium.ready()
        guard count > 0 else { throw CryptoError(.invalidLength, "a secret cannot be empty") }
        if transient {
            pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        } else {
            guard let p = sodium_malloc(count) else {
                throw CryptoError(.outOfMemory, "could not allocate protected memory")
            }
            pointer = p
        }
        sodium_memzero(pointer, count)
        self.count = count
        self.isProtected = !transient
    }

    /// A copy in sodium_malloc memory (for a secret that will outlive the request that opened it).
    public func protectedCopy() throws -> SecretBytes {
        if isProtected { return self }
        let copy = try SecretBytes(zeroedCount: count)
        copy.pointer.copyMemory(from: pointer, byteCount: count)
        return copy
    }

    /// Fresh random secret bytes.
    public static func random(count: Int, transient: Bool = false) throws -> SecretBytes {
        let s = try SecretBytes(zeroedCount: count, transient: transient)
        randombytes_buf(s.pointer, count)
        return s
    }

    /// Copies bytes into protected memory. The caller stays responsible for wiping its own copy.
    public convenience init(copying bytes: [UInt8], transient: Bool = false) throws {
        let n = bytes.count
        if n == 0 { throw CryptoError(.invalidLength, "a secret cannot be empty") }
        try self.init(zeroedCount: n, transient: transient)
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
        if isProtected {
            sodium_free(pointer)  // sodium_free wipes before releasing
        } else {
            sodium_memzero(pointer, count)
            pointer.deallocate()
        }
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
