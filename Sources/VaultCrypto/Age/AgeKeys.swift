internal import CSodium

/// An age X25519 recipient: a Curve25519 public key, written `age1…` (Bech32, lowercase).
public struct AgeRecipient: Sendable, Equatable, CustomStringConvertible {
    /// The 32-byte public key.
    public let publicKey: [UInt8]

    /// Parses `age1…`.
    /// - Throws: `CryptoError.malformed` for anything that is not a Bech32 `age` string of a 32-byte key.
    public init(_ text: String) throws {
        guard text.utf8.count <= 100 else { throw CryptoError(.malformed, "an age recipient is 62 characters") }
        let (hrp, data) = try Bech32.decode(text)
        guard hrp == "age", data.count == 32, text == text.lowercased() else {
            throw CryptoError(.malformed, "not an age X25519 recipient (age1…)")
        }
        publicKey = data
    }

    /// A recipient from its 32 raw bytes.
    /// - Throws: `CryptoError.invalidLength` for another length.
    public init(publicKey: [UInt8]) throws {
        guard publicKey.count == 32 else { throw CryptoError(.invalidLength, "an X25519 public key is 32 bytes") }
        self.publicKey = publicKey
    }

    /// The `age1…` form.
    public var description: String { Bech32.encode(hrp: "age", data: publicKey) }
}

/// An age X25519 identity (the secret scalar), written `AGE-SECRET-KEY-1…`. Held in wiping memory.
public struct AgeIdentity: Sendable, CustomStringConvertible {
    let secretKey: SecretBytes
    /// The matching recipient.
    public let recipient: AgeRecipient

    /// A fresh identity (32 random bytes, as age-keygen makes them).
    public static func generate() throws -> AgeIdentity {
        try AgeIdentity(secretKey: SecretBytes.random(count: 32))
    }

    /// An identity from its secret scalar.
    /// - Throws: `CryptoError.invalidLength` unless 32 bytes.
    public init(secretKey: SecretBytes) throws {
        try Sodium.ready()
        guard secretKey.count == 32 else { throw CryptoError(.invalidLength, "an X25519 secret key is 32 bytes") }
        var pk = [UInt8](repeating: 0, count: 32)
        let rc = secretKey.withUnsafeBytes {
            crypto_scalarmult_base(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try Sodium.check(rc, .malformed, "crypto_scalarmult_base failed")
        self.secretKey = secretKey
        self.recipient = try AgeRecipient(publicKey: pk)
    }

    /// Parses one `AGE-SECRET-KEY-1…` line.
    /// - Throws: `CryptoError.malformed` (without echoing the text) for anything else.
    public init(_ text: String) throws {
        guard text.utf8.count <= 100 else { throw CryptoError(.malformed, "not an age identity (AGE-SECRET-KEY-1…)") }
        let decoded = try Bech32.decode(text)
        var data = decoded.data
        defer { SecretBytes.wipe(&data) }
        guard decoded.hrp == "age-secret-key-", data.count == 32, text == text.uppercased() else {
            throw CryptoError(.malformed, "not an age identity (AGE-SECRET-KEY-1…)")
        }
        try self.init(secretKey: SecretBytes(copying: data))
    }

    /// The identities in an identity file as age-keygen writes it: `#` comments and blank lines skipped.
    /// - Throws: `CryptoError.malformed` naming the line number of a line that is neither.
    public static func parseFile(_ text: String) throws -> [AgeIdentity] {
        var out: [AgeIdentity] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix("#") { continue }
            do { out.append(try AgeIdentity(String(line))) } catch {
                throw CryptoError(.malformed, "identity file line \(i + 1) is not an age identity")
            }
        }
        guard !out.isEmpty else { throw CryptoError(.malformed, "no identity in the identity file") }
        return out
    }

    /// The `AGE-SECRET-KEY-1…` text: a secret. For writing an identity file the caller protects.
    public func encodedSecret() -> String {
        var bytes = secretKey.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        return Bech32.encode(hrp: "AGE-SECRET-KEY-", data: bytes, uppercase: true)
    }

    public var description: String { "<redacted age identity for \(recipient)>" }
}
