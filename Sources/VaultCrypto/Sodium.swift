internal import CSodium

/// Errors raised by the cryptographic layer. Messages never contain key material or plaintext.
public struct CryptoError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Code: String, Sendable {
        case initializationFailed
        case invalidLength
        case decryptionFailed
        case signatureInvalid
        case keyMismatch
        case wrongLabel
        case malformed
        case outOfMemory
        case kdfFailed
        case randomFailed
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}

/// One-time libsodium initialisation; every entry point of this module goes through `Sodium.ready()`.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ready() throws {
        guard initialized else { throw CryptoError(.initializationFailed, "libsodium could not be initialised") }
    }

    /// Overwrites transient secret bytes (sodium_memzero).
    static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
    }

    static func check(_ rc: Int32, _ code: CryptoError.Code, _ detail: @autoclosure () -> String) throws {
        guard rc == 0 else { throw CryptoError(code, detail()) }
    }
}

/// Cryptographically secure random bytes from libsodium.
public enum SecureRandom {
    /// Returns `count` random bytes (public values such as nonces, salts and ids).
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0)
        _ = try? Sodium.ready()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }

    /// Fills a buffer with random bytes (for transient secrets the caller wipes).
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        try Sodium.ready()
        if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
    }

    /// A uniformly random integer below `upperBound`.
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        _ = try? Sodium.ready()
        return randombytes_uniform(upperBound)
    }
}

/// Process hardening that needs C.
public enum Hardening {
    /// Disables core dumps for this process (PR_SET_DUMPABLE 0) so unlocked keys never reach a dump file.
    /// - Returns: true when the kernel accepted the setting.
    @discardableResult
    public static func disableCoreDumps() -> Bool {
        cv_disable_core_dumps() == 0
    }

    /// Caps glibc's malloc arenas (one per core is plenty for a server whose hot path allocates little) unless
    /// MALLOC_ARENA_MAX is set. glibc otherwise gives threads up to eight arenas per core, each keeping the memory
    /// freed into it: under the 30-minute soak, 15 arenas held 20 of the server's 33 MB of heap.
    /// - Returns: false when glibc refused the setting.
    @discardableResult
    public static func limitMallocArenas(_ arenas: Int32 = 2) -> Bool {
        cv_limit_malloc_arenas(arenas) >= 0
    }
}
