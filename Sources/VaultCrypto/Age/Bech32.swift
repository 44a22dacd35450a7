/// Bech32 (BIP-173), the text form of age keys: `age1…` recipients and `AGE-SECRET-KEY-1…` identities.
/// An encoding, not a primitive; checked against BIP-173's vectors and keys made by `age-keygen`.
/// age does not apply BIP-173's 90-character limit, so neither does this.
public enum Bech32 {
    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in charset.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    private static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Regroups bits (8 → 5 with padding when encoding; 5 → 8 refusing non-zero padding when decoding).
    static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var acc = 0
        var bits = 0
        var out: [UInt8] = []
        let maxv = (1 << to) - 1
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            acc = (acc << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> bits) & maxv))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << (to - bits)) & maxv)) }
        } else if bits >= from || ((acc << (to - bits)) & maxv) != 0 {
            return nil
        }
        return out
    }

    /// Encodes `data` under a human-readable part; lowercase, or uppercase when `uppercase`.
    public static func encode(hrp: String, data: [UInt8], uppercase: Bool = false) -> String {
        let h = Array(hrp.lowercased().utf8)
        let values = convert(data, from: 8, to: 5, pad: true)!
        let mod = polymod(expand(h) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((mod >> (5 * (5 - UInt32($0)))) & 31) }
        let text = String(
            decoding: h + [UInt8(ascii: "1")] + (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
        return uppercase ? text.uppercased() : text
    }

    /// Decodes a Bech32 string into its (lowercase) human-readable part and data bytes.
    /// - Throws: `CryptoError.malformed` for mixed case, a bad character, a bad checksum or bad padding.
    public static func decode(_ text: String) throws -> (hrp: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        let hasLower = bytes.contains { $0 >= 0x61 && $0 <= 0x7a }
        let hasUpper = bytes.contains { $0 >= 0x41 && $0 <= 0x5a }
        guard !(hasLower && hasUpper) else { throw CryptoError(.malformed, "Bech32 string mixes upper and lower case") }
        guard bytes.allSatisfy({ $0 >= 33 && $0 <= 126 }) else {
            throw CryptoError(.malformed, "Bech32 string has a character outside printable ASCII")
        }
        let lower = bytes.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 32 : $0 }
        guard let sep = lower.lastIndex(of: UInt8(ascii: "1")), sep >= 1, lower.count - sep - 1 >= 6 else {
            throw CryptoError(.malformed, "Bech32 string has no separator or too short a checksum")
        }
        let hrp = Array(lower[..<sep])
        var values: [UInt8] = []
        values.reserveCapacity(lower.count - sep - 1)
        for c in lower[(sep + 1)...] {
            guard c < 128, reverse[Int(c)] >= 0 else {
                throw CryptoError(.malformed, "Bech32 string has a bad character")
            }
            values.append(UInt8(reverse[Int(c)]))
        }
        guard polymod(expand(hrp) + values) == 1 else {
            throw CryptoError(.malformed, "Bech32 checksum does not match")
        }
        guard let data = convert(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else {
            throw CryptoError(.malformed, "Bech32 data has bad padding")
        }
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
