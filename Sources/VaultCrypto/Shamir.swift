internal import CSodium

/// Shamir secret sharing over GF(2^8): the recovery key's secret exists only as shares (schema/SHAMIR.md).
///
/// The field is GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B); a byte is a field
/// element, addition is XOR. Every byte of the secret is shared independently with its own polynomial
/// f(x) = s + a1·x + … + a(k-1)·x^(k-1) whose coefficients come from libsodium's `randombytes_buf`;
/// share i holds f(i) for x = 1…n. `combine` interpolates at x = 0 (Lagrange).
///
/// All field arithmetic is constant time: multiplication is shift-and-conditional-XOR driven by masks
/// (no table indexed by secret data, no branch on secret data) and the inverse is a^254, computed by a
/// fixed square-and-multiply chain (the inverse of 0 comes out as 0, and is never needed).
///
/// Shares carry no MAC. A share file has a checksum that catches accidental corruption (a typo, a torn
/// page); a share altered consistently, checksum included, recombines to a wrong secret without error.
/// Callers recombining a recovery X25519 secret must therefore recompute its public key and compare it
/// with the recovery public key before using it.
public enum Shamir {
    /// Splits `secret` into `n` shares of which any `k` recombine it.
    ///
    /// Shares get x = 1…n and a fresh random 16-byte `setID`, so shares of two different splits (even of
    /// the same secret) are never combined by mistake. The random coefficients are wiped before returning.
    /// - Throws: `CryptoError.invalidLength` unless 1 ≤ k ≤ n ≤ 255; `CryptoError.outOfMemory`.
    public static func split(_ secret: SecretBytes, shares n: Int, threshold k: Int) throws -> [Share] {
        try checkParameters(shares: n, threshold: k)
        let coefficients = k > 1 ? try SecretBytes.random(count: (k - 1) * secret.count) : nil
        defer { coefficients?.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) } }
        return try split(secret, shares: n, threshold: k, coefficients: coefficients, setID: SecureRandom.bytes(16))
    }

    /// Recombines the secret from at least `threshold` shares of one split (Lagrange interpolation at 0).
    ///
    /// Every share given is used. A wrong but well-formed share yields a wrong secret, not an error:
    /// verify the result (for the recovery key, its public key) before trusting it.
    /// - Throws: `CryptoError.malformed` for no shares, shares of different splits, parameters or lengths
    ///   that disagree, a zero or repeated index, or fewer shares than the threshold they record.
    public static func combine(_ shares: [Share]) throws -> SecretBytes {
        guard let first = shares.first else { throw CryptoError(.malformed, "no shares given") }
        guard shares.count >= first.threshold else {
            throw CryptoError(.malformed, "need at least \(first.threshold) shares, got \(shares.count)")
        }
        return try interpolate(shares)
    }

    // MARK: - Internals (reached by tests through @testable)

    /// Splits with explicit coefficients: `coefficients` holds a1 for every secret byte, then a2 for every
    /// byte, … (degree-major, `(k - 1) * secret.count` bytes; nil when k = 1). Used by the vector tests.
    static func split(
        _ secret: SecretBytes, shares n: Int, threshold k: Int, coefficients: SecretBytes?, setID: [UInt8]
    ) throws -> [Share] {
        try checkParameters(shares: n, threshold: k)
        let length = secret.count
        guard (coefficients?.count ?? 0) == (k - 1) * length else {
            throw CryptoError(.invalidLength, "expected \(k - 1) coefficients per secret byte")
        }
        var shares: [Share] = []
        shares.reserveCapacity(n)
        for index in 1...n {
            let x = UInt8(index)
            let y = try SecretBytes(zeroedCount: length)
            secret.withUnsafeBytes { s in
                y.withUnsafeMutableBytes { out in
                    for j in 0..<length {
                        // Horner: f(x) = (…(a(k-1)·x + a(k-2))·x + …)·x + s
                        var acc: UInt8 = 0
                        if let coefficients {
                            coefficients.withUnsafeBytes { c in
                                for degree in stride(from: k - 1, through: 1, by: -1) {
                                    acc = GF256.multiply(acc, x) ^ c[(degree - 1) * length + j]
                                }
                            }
                        }
                        out[j] = GF256.multiply(acc, x) ^ s[j]
                    }
                }
            }
            shares.append(try Share(x: x, threshold: k, total: n, y: y, setID: setID))
        }
        return shares
    }

    /// Lagrange interpolation at 0 with every structural check of `combine` except the threshold.
    static func interpolate(_ shares: [Share]) throws -> SecretBytes {
        guard let first = shares.first else { throw CryptoError(.malformed, "no shares given") }
        var seen = [Bool](repeating: false, count: 256)
        for share in shares {
            guard share.setID == first.setID else { throw CryptoError(.malformed, "shares come from different splits") }
            guard share.threshold == first.threshold, share.total == first.total else {
                throw CryptoError(.malformed, "shares disagree on threshold or share count")
            }
            guard share.y.count == first.y.count else { throw CryptoError(.malformed, "shares differ in length") }
            guard share.x != 0 else { throw CryptoError(.malformed, "share index 0 is invalid") }
            guard !seen[Int(share.x)] else { throw CryptoError(.malformed, "share index \(share.x) given twice") }
            seen[Int(share.x)] = true
        }
        let length = first.y.count
        let secret = try SecretBytes(zeroedCount: length)
        secret.withUnsafeMutableBytes { out in
            for (i, share) in shares.enumerated() {
                // L_i(0) = Π_{j≠i} x_j / (x_j − x_i); subtraction is XOR in GF(2^8).
                var numerator: UInt8 = 1
                var denominator: UInt8 = 1
                for (j, other) in shares.enumerated() where j != i {
                    numerator = GF256.multiply(numerator, other.x)
                    denominator = GF256.multiply(denominator, other.x ^ share.x)
                }
                let basis = GF256.multiply(numerator, GF256.inverse(denominator))
                share.y.withUnsafeBytes { y in
                    for b in 0..<length { out[b] ^= GF256.multiply(basis, y[b]) }
                }
            }
        }
        return secret
    }

    static func checkParameters(shares n: Int, threshold k: Int) throws {
        guard 1 <= k, k <= n, n <= 255 else {
            throw CryptoError(.invalidLength, "need 1 ≤ threshold ≤ shares ≤ 255, got \(k) of \(n)")
        }
    }

    /// Constant-time arithmetic in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (0x11B).
    enum GF256 {
        /// Addition (and subtraction): XOR.
        static func add(_ a: UInt8, _ b: UInt8) -> UInt8 { a ^ b }

        /// Multiplication by shift-and-conditional-XOR; the conditions are masks, never branches.
        static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
            var a = a
            var b = b
            var product: UInt8 = 0
            for _ in 0..<8 {
                product ^= a & (0 &- (b & 1))  // add a when the low bit of b is set
                let carry = 0 &- (a >> 7)  // 0xFF when x^7 is about to overflow
                a = (a &<< 1) ^ (0x1B & carry)  // a·x, reduced by x^8 = x^4 + x^3 + x + 1
                b >>= 1
            }
            return product
        }

        /// Multiplicative inverse as a^254 (a^255 = 1 for a ≠ 0): 254 = 2 + 4 + … + 128, so seven squarings
        /// and seven multiplications, the same sequence for every input. inverse(0) = 0.
        static func inverse(_ a: UInt8) -> UInt8 {
            var result: UInt8 = 1
            var power = a
            for _ in 0..<7 {
                power = multiply(power, power)  // a^(2^i)
                result = multiply(result, power)
            }
            return result
        }
    }
}

extension Shamir {
    /// One share: the point (x, f(x)) for every secret byte, plus what is needed to recombine it.
    public struct Share: Sendable, CustomStringConvertible {
        /// The share's x-coordinate (its index), 1…`total`.
        public let x: UInt8
        /// How many shares recombine the secret.
        public let threshold: Int
        /// How many shares the split produced.
        public let total: Int
        /// The share's y bytes, one per secret byte.
        public let y: SecretBytes
        /// 16 random bytes naming the split this share belongs to.
        public let setID: [UInt8]

        /// A share from its parts.
        /// - Throws: `CryptoError.malformed` unless 1 ≤ threshold ≤ total ≤ 255, 1 ≤ x ≤ total and
        ///   `setID` is 16 bytes.
        public init(x: UInt8, threshold: Int, total: Int, y: SecretBytes, setID: [UInt8]) throws {
            guard 1 <= threshold, threshold <= total, total <= 255, x >= 1, Int(x) <= total else {
                throw CryptoError(.malformed, "share index \(x), threshold \(threshold) of \(total) is invalid")
            }
            guard setID.count == 16 else { throw CryptoError(.malformed, "share set id must be 16 bytes") }
            self.x = x
            self.threshold = threshold
            self.total = total
            self.y = y
            self.setID = setID
        }

        public var description: String {
            "share \(x) of \(total) (threshold \(threshold), set \(setID.hex))"
        }
    }
}

// MARK: - Share file

extension Shamir.Share {
    /// First line of every share file.
    static let fileHeader = "consultvault-recovery-share v1"

    /// The printable share file (schema/SHAMIR.md §4): header, `set`, `public-key`, `threshold`, `shares`,
    /// `index`, `share`, `check`, one `key: value` per line, LF line ends.
    ///
    /// The returned string holds the share in base64 and cannot be wiped: write it out and drop it.
    /// - Parameter publicKey: the 32-byte recovery X25519 public key the shared secret belongs to.
    public func encodeFile(publicKey: [UInt8]) -> String {
        precondition(publicKey.count == Int(crypto_box_publickeybytes()), "recovery public key must be 32 bytes")
        let check = Self.checksum(
            setID: setID, publicKey: publicKey, threshold: threshold, total: total, index: Int(x), y: y)
        let shareText = y.withUnsafeBytes { Self.base64($0) }
        return """
            \(Self.fileHeader)
            set: \(setID.hex)
            public-key: \(publicKey.withUnsafeBytes { Self.base64($0) })
            threshold: \(threshold)
            shares: \(total)
            index: \(x)
            share: \(shareText)
            check: \(check.hex)

            """
    }

    /// Parses a share file, verifying its checksum.
    ///
    /// Blank lines, surrounding whitespace and CR line ends are tolerated; fields may come in any order
    /// after the header but each exactly once, as `key: value`. The checksum detects accidental damage
    /// only (see `Shamir`).
    /// - Returns: the share and the recovery public key recorded with it.
    /// - Throws: `CryptoError.malformed` for a file that does not parse, is corrupted (checksum mismatch)
    ///   or records impossible parameters.
    public static func decodeFile(_ text: String) throws -> (share: Shamir.Share, publicKey: [UInt8]) {
        let lines = text.split(whereSeparator: \.isNewline)
            .map { trimmed($0) }
            .filter { !$0.isEmpty }
        guard let header = lines.first, header == fileHeader else {
            throw CryptoError(.malformed, "not a consultvault recovery share file (v1)")
        }
        var fields: [String: Substring] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw CryptoError(.malformed, "share file line without `key: value`")
            }
            let key = String(line[..<colon])
            let rest = line[line.index(after: colon)...]
            guard rest.hasPrefix(" "), rest.count > 1, !rest.dropFirst().contains(where: { $0 == " " || $0 == "\t" })
            else { throw CryptoError(.malformed, "share file field `\(key)` is not `key: value`") }
            guard fieldNames.contains(key) else { throw CryptoError(.malformed, "unknown share file field") }
            guard fields[key] == nil else { throw CryptoError(.malformed, "share file field `\(key)` repeated") }
            fields[key] = rest.dropFirst()
        }
        func field(_ name: String) throws -> Substring {
            guard let value = fields[name] else { throw CryptoError(.malformed, "share file lacks `\(name)`") }
            return value
        }
        guard let setID = [UInt8](hex: String(try field("set"))) else {
            throw CryptoError(.malformed, "share file `set` is not hex")
        }
        guard let check = [UInt8](hex: String(try field("check"))) else {
            throw CryptoError(.malformed, "share file `check` is not hex")
        }
        let publicKey = try base64Decode(try field("public-key"), name: "public-key")
        let threshold = try number(try field("threshold"), name: "threshold")
        let total = try number(try field("shares"), name: "shares")
        let index = try number(try field("index"), name: "index")
        var yBytes = try base64Decode(try field("share"), name: "share")
        defer { SecretBytes.wipe(&yBytes) }
        guard !yBytes.isEmpty else { throw CryptoError(.malformed, "share file `share` is empty") }
        let y = try SecretBytes(zeroedCount: yBytes.count)
        y.withUnsafeMutableBytes { $0.copyBytes(from: yBytes) }

        let expected = checksum(
            setID: setID, publicKey: publicKey, threshold: threshold, total: total, index: index, y: y)
        guard SecretBytes.constantTimeEquals(expected, check) else {
            throw CryptoError(.malformed, "share file (index \(index)) is corrupted: checksum mismatch")
        }
        guard publicKey.count == Int(crypto_box_publickeybytes()) else {
            throw CryptoError(.malformed, "share file `public-key` must be 32 bytes")
        }
        guard index <= 255 else { throw CryptoError(.malformed, "share file `index` out of range") }
        let share = try Shamir.Share(x: UInt8(index), threshold: threshold, total: total, y: y, setID: setID)
        return (share, publicKey)
    }

    private static let fieldNames: Set<String> = [
        "set", "public-key", "threshold", "shares", "index", "share", "check",
    ]

    /// First 8 bytes of BLAKE2b-256 over the canonical encoding (u32 big-endian length + bytes per field) of
    /// header, set id, public key, u32 threshold, u32 total, u32 index, y.
    static func checksum(
        setID: [UInt8], publicKey: [UInt8], threshold: Int, total: Int, index: Int, y: SecretBytes
    ) -> [UInt8] {
        let parts: [[UInt8]] = [
            Array(fileHeader.utf8), setID, publicKey,
            Canonical.u32(UInt32(threshold)), Canonical.u32(UInt32(total)), Canonical.u32(UInt32(index)),
        ]
        var data: [UInt8] = []
        data.reserveCapacity(parts.reduce(0) { $0 + 4 + $1.count } + 4 + y.count)  // no reallocation: one copy
        for part in parts { data += Canonical.u32(UInt32(part.count)) + part }
        data += Canonical.u32(UInt32(y.count))
        y.withUnsafeBytes { data.append(contentsOf: $0) }
        defer { SecretBytes.wipe(&data) }
        return Array(Hashing.blake2b(data, outputLength: 32).prefix(8))
    }

    /// Standard base64 with padding (libsodium's original variant).
    static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        let variant = sodium_base64_VARIANT_ORIGINAL
        let capacity = sodium_base64_encoded_len(bytes.count, variant)  // includes the terminating NUL
        var out = [CChar](repeating: 0, count: capacity)
        _ = out.withUnsafeMutableBufferPointer { o in
            sodium_bin2base64(
                o.baseAddress!, capacity, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                variant)
        }
        defer { out.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) } }
        return out.withUnsafeBytes { String(decoding: $0.prefix(capacity - 1), as: UTF8.self) }
    }

    /// Strict base64: padding required, no whitespace, and only the canonical encoding of its bytes.
    static func base64Decode(_ text: Substring, name: String) throws -> [UInt8] {
        let chars = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: chars.count / 4 * 3 + 3)
        var length = 0
        let rc = chars.withUnsafeBufferPointer { c in
            c.withMemoryRebound(to: CChar.self) { c in
                sodium_base642bin(
                    &out, out.count, c.baseAddress, c.count, nil, &length, nil, sodium_base64_VARIANT_ORIGINAL)
            }
        }
        guard rc == 0 else {
            SecretBytes.wipe(&out)
            throw CryptoError(.malformed, "share file `\(name)` is not base64")
        }
        var bytes = Array(out.prefix(length))
        SecretBytes.wipe(&out)
        let canonical = bytes.withUnsafeBytes { base64($0) }
        guard canonical == text else {
            SecretBytes.wipe(&bytes)
            throw CryptoError(.malformed, "share file `\(name)` is not canonical base64")
        }
        return bytes
    }

    /// Decimal 0…255 without sign or leading zeros.
    static func number(_ text: Substring, name: String) throws -> Int {
        guard text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }), text == "0" || !text.hasPrefix("0"),
            let value = Int(text), value <= 255
        else { throw CryptoError(.malformed, "share file `\(name)` must be a number 0…255") }
        return value
    }

    private static func trimmed(_ line: Substring) -> Substring {
        var line = line
        while let c = line.first, c == " " || c == "\t" || c == "\r" { line = line.dropFirst() }
        while let c = line.last, c == " " || c == "\t" || c == "\r" { line = line.dropLast() }
        return line
    }
}
