internal import CSodium

/// An X25519 key pair for sealed boxes (crypto_box). The secret lives in `SecretBytes`.
public struct BoxKeyPair: Sendable {
    public let publicKey: [UInt8]
    public let secretKey: SecretBytes

    /// Key id: 16-byte BLAKE2b of the public key.
    public var keyID: [UInt8] { Hashing.keyID(publicKey) }

    /// A fresh key pair.
    public static func generate() throws -> BoxKeyPair {
        try Sodium.ready()
        let sk = try SecretBytes(zeroedCount: Int(crypto_box_secretkeybytes()))
        var pk = [UInt8](repeating: 0, count: Int(crypto_box_publickeybytes()))
        let rc = sk.withUnsafeMutableBytes {
            crypto_box_keypair(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try Sodium.check(rc, .randomFailed, "crypto_box_keypair failed")
        return BoxKeyPair(publicKey: pk, secretKey: sk)
    }

    /// Rebuilds a key pair from its secret, recomputing the public key.
    /// - Throws: `CryptoError.invalidLength` when the secret is not 32 bytes.
    public init(secretKey: SecretBytes) throws {
        try Sodium.ready()
        guard secretKey.count == Int(crypto_box_secretkeybytes()) else {
            throw CryptoError(.invalidLength, "an X25519 secret key is 32 bytes")
        }
        var pk = [UInt8](repeating: 0, count: Int(crypto_box_publickeybytes()))
        let rc = secretKey.withUnsafeBytes {
            crypto_scalarmult_base(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try Sodium.check(rc, .malformed, "crypto_scalarmult_base failed")
        self.publicKey = pk
        self.secretKey = secretKey
    }

    /// Rebuilds a key pair and checks it against the key id the caller expected.
    /// - Throws: `CryptoError.keyMismatch` when the recomputed public key has another id.
    public init(secretKey: SecretBytes, expectedKeyID: [UInt8]) throws {
        try self.init(secretKey: secretKey)
        guard SecretBytes.constantTimeEquals(keyID, expectedKeyID) else {
            throw CryptoError(.keyMismatch, "unsealed secret does not match the expected key id")
        }
    }

    private init(publicKey: [UInt8], secretKey: SecretBytes) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    public static var publicKeyLength: Int { Int(crypto_box_publickeybytes()) }
}

/// An Ed25519 signing key pair. Only the 32-byte seed is stored; libsodium's 64-byte secret is derived.
public struct SigningKeyPair: Sendable {
    public let publicKey: [UInt8]
    public let seed: SecretBytes
    private let expanded: SecretBytes

    public var keyID: [UInt8] { Hashing.keyID(publicKey) }

    public static func generate() throws -> SigningKeyPair {
        try SigningKeyPair(seed: SecretBytes.random(count: Int(crypto_sign_seedbytes())))
    }

    /// Derives the key pair from a 32-byte seed.
    /// - Throws: `CryptoError.invalidLength` for a seed of another size.
    public init(seed: SecretBytes) throws {
        try Sodium.ready()
        guard seed.count == Int(crypto_sign_seedbytes()) else {
            throw CryptoError(.invalidLength, "an Ed25519 seed is 32 bytes")
        }
        let sk = try SecretBytes(zeroedCount: Int(crypto_sign_secretkeybytes()))
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_publickeybytes()))
        let rc = seed.withUnsafeBytes { s in
            sk.withUnsafeMutableBytes { k in
                crypto_sign_seed_keypair(
                    &pk, k.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        try Sodium.check(rc, .malformed, "crypto_sign_seed_keypair failed")
        self.publicKey = pk
        self.seed = seed
        self.expanded = sk
    }

    /// Derives the key pair and checks the public key against an expected one.
    public init(seed: SecretBytes, expectedPublicKey: [UInt8]) throws {
        try self.init(seed: seed)
        guard SecretBytes.constantTimeEquals(publicKey, expectedPublicKey) else {
            throw CryptoError(.keyMismatch, "unsealed signing seed does not match the expected public key")
        }
    }

    /// Detached Ed25519 signature (64 bytes).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: Int(crypto_sign_bytes()))
        let rc = expanded.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                crypto_sign_detached(
                    &sig, nil, m.baseAddress, UInt64(m.count), k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_sign_detached failed")
        return sig
    }

    /// Verifies a detached signature; false on any length or signature problem.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard (try? Sodium.ready()) != nil,
            signature.count == Int(crypto_sign_bytes()), publicKey.count == Int(crypto_sign_publickeybytes())
        else { return false }
        return message.withUnsafeBufferPointer { m in
            crypto_sign_verify_detached(signature, m.baseAddress, UInt64(m.count), publicKey) == 0
        }
    }
}
