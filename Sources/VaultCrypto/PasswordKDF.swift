internal import CSodium

/// Argon2id parameters, stored next to every passphrase wrap.
public struct KDFParameters: Sendable, Equatable, Codable {
    public var opsLimit: UInt64
    public var memLimit: Int

    public init(opsLimit: UInt64, memLimit: Int) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// A named profile. `moderate` is the production default; the others make demo/test vaults.
    public enum Profile: String, Sendable, CaseIterable {
        case moderate, interactive, test
    }

    public static func profile(_ p: Profile) -> KDFParameters {
        _ = try? Sodium.ready()
        switch p {
        case .moderate:
            return .init(
                opsLimit: UInt64(crypto_pwhash_opslimit_moderate()), memLimit: crypto_pwhash_memlimit_moderate())
        case .interactive:
            return .init(
                opsLimit: UInt64(crypto_pwhash_opslimit_interactive()), memLimit: crypto_pwhash_memlimit_interactive())
        case .test:
            // The smallest Argon2id settings libsodium accepts plus headroom: tests and demos only.
            return .init(opsLimit: UInt64(crypto_pwhash_opslimit_min()), memLimit: 1 << 20)
        }
    }

    /// True when these parameters are at least as strong as `other` in both dimensions.
    public func isAtLeast(_ other: KDFParameters) -> Bool { opsLimit >= other.opsLimit && memLimit >= other.memLimit }
}

/// Argon2id (crypto_pwhash) turning a passphrase into a 32-byte key-encryption key.
public enum PasswordKDF {
    public static var saltLength: Int { Int(crypto_pwhash_saltbytes()) }

    /// Derives the KEK. Costs what the parameters say (≈0.5 s and 256 MiB at MODERATE).
    /// - Throws: `CryptoError.kdfFailed` when libsodium refuses (out of memory, bad limits).
    public static func deriveKey(passphrase: String, salt: [UInt8], parameters: KDFParameters) throws -> SecretBytes {
        try Sodium.ready()
        guard salt.count == saltLength else { throw CryptoError(.invalidLength, "an Argon2id salt is 16 bytes") }
        let key = try SecretBytes(zeroedCount: 32)
        var pw = Array(passphrase.utf8)
        defer { SecretBytes.wipe(&pw) }
        let rc = key.withUnsafeMutableBytes { k in
            pw.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { pc in
                    crypto_pwhash(
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, pc.baseAddress!, UInt64(pc.count), salt,
                        parameters.opsLimit, parameters.memLimit, crypto_pwhash_alg_argon2id13())
                }
            }
        }
        try Sodium.check(rc, .kdfFailed, "Argon2id derivation failed")
        return key
    }
}
