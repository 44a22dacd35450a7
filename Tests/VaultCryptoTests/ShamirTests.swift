import Foundation
import Testing

@testable import VaultCrypto

@Suite struct ShamirTests {
    typealias GF = Shamir.GF256

    // MARK: - Field

    @Test("multiplies in the AES field: FIPS-197 and published products")
    func multiplyKnownAnswers() throws {
        #expect(GF.multiply(0x57, 0x83) == 0xC1)
        #expect(GF.multiply(0x53, 0xCA) == 0x01)
        #expect(GF.multiply(0x57, 0x13) == 0xFE)
        #expect(GF.add(0x57, 0x83) == 0xD4)
        for v in try Self.vectors().multiply {
            #expect(GF.multiply(try Self.byte(v.a), try Self.byte(v.b)) == (try Self.byte(v.product)), "\(v.a)·\(v.b)")
        }
    }

    @Test("multiplication agrees with schoolbook multiply-then-reduce mod 0x11B for every pair")
    func multiplyExhaustive() {
        func reference(_ a: UInt8, _ b: UInt8) -> UInt8 {
            var wide: UInt16 = 0
            for bit in 0..<8 where (b >> bit) & 1 == 1 { wide ^= UInt16(a) << bit }
            for bit in stride(from: 14, through: 8, by: -1) where (wide >> bit) & 1 == 1 {
                wide ^= 0x11B << (bit - 8)
            }
            return UInt8(wide)
        }
        var mismatches = 0
        for a in 0...255 {
            for b in 0...255 where GF.multiply(UInt8(a), UInt8(b)) != reference(UInt8(a), UInt8(b)) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test("inverts: 0x53⁻¹ = 0xCA, vectors, and a·a⁻¹ = 1 for every non-zero a")
    func inverse() throws {
        #expect(GF.inverse(0x53) == 0xCA)
        #expect(GF.inverse(0xCA) == 0x53)
        #expect(GF.inverse(0) == 0)
        for v in try Self.vectors().inverse {
            #expect(GF.inverse(try Self.byte(v.a)) == (try Self.byte(v.inverse)), "\(v.a)⁻¹")
        }
        for a in 1...255 {
            #expect(GF.multiply(UInt8(a), GF.inverse(UInt8(a))) == 1, "a = \(a)")
        }
    }

    // MARK: - Split and combine

    @Test("split with fixed coefficients reproduces the published vectors, and they recombine")
    func splitVectors() throws {
        let vectors = try Self.vectors().splits
        #expect(vectors.count >= 5)
        for v in vectors {
            let secretBytes = try #require([UInt8](hex: v.secret))
            let coefficientBytes = try v.coefficients.flatMap { try #require([UInt8](hex: $0)) }
            let coefficients = coefficientBytes.isEmpty ? nil : try Self.secret(coefficientBytes)
            let shares = try Shamir.split(
                try Self.secret(secretBytes), shares: v.shares, threshold: v.threshold,
                coefficients: coefficients, setID: [UInt8](repeating: 7, count: 16))
            #expect(shares.count == v.shares, "\(v.name)")
            for e in v.expected {
                let share = try #require(shares.first { Int($0.x) == e.x })
                #expect(Self.bytes(share.y) == [UInt8](hex: e.y), "\(v.name) x=\(e.x)")
                #expect(share.threshold == v.threshold && share.total == v.shares)
            }
            let tail = Array(shares.suffix(v.threshold))
            #expect(Self.bytes(try Shamir.combine(tail)) == secretBytes, "\(v.name)")
        }
    }

    @Test("any 3 of 5 shares recombine a random 32-byte secret (all 10 subsets, any order)")
    func threeOfFive() throws {
        let secret = try SecretBytes.random(count: 32)
        let shares = try Shamir.split(secret, shares: 5, threshold: 3)
        #expect(shares.map(\.x) == [1, 2, 3, 4, 5])
        #expect(Set(shares.map(\.setID)).count == 1 && shares[0].setID.count == 16)
        var subsets = 0
        for a in 0..<5 {
            for b in (a + 1)..<5 {
                for c in (b + 1)..<5 {
                    subsets += 1
                    #expect(try Shamir.combine([shares[a], shares[b], shares[c]]).constantTimeEquals(secret))
                    #expect(try Shamir.combine([shares[c], shares[a], shares[b]]).constantTimeEquals(secret))
                }
            }
        }
        #expect(subsets == 10)
        #expect(try Shamir.combine(shares).constantTimeEquals(secret))
        #expect(try Shamir.combine(Array(shares.prefix(4))).constantTimeEquals(secret))
    }

    @Test("2 of 5 shares are refused, and interpolating them anyway does not give the secret")
    func belowThreshold() throws {
        let secret = try SecretBytes.random(count: 32)
        let shares = try Shamir.split(secret, shares: 5, threshold: 3)
        let error = #expect(throws: CryptoError.self) { try Shamir.combine([shares[0], shares[3]]) }
        #expect(error?.code == .malformed)
        let wrong = try Shamir.interpolate([shares[0], shares[3]])
        #expect(wrong.count == 32)
        #expect(!wrong.constantTimeEquals(secret))
    }

    @Test("two splits of the same secret differ and their shares do not mix")
    func freshRandomness() throws {
        let secret = try SecretBytes.random(count: 32)
        let first = try Shamir.split(secret, shares: 3, threshold: 2)
        let second = try Shamir.split(secret, shares: 3, threshold: 2)
        #expect(first[0].setID != second[0].setID)
        #expect(!first[0].y.constantTimeEquals(second[0].y))
        #expect(!first[0].y.constantTimeEquals(secret))
        #expect(throws: CryptoError.self) { try Shamir.combine([first[0], second[1]]) }
    }

    @Test("duplicate indices are refused")
    func duplicateIndices() throws {
        let shares = try Shamir.split(try SecretBytes.random(count: 16), shares: 5, threshold: 3)
        #expect(throws: CryptoError.self) { try Shamir.combine([shares[1], shares[1], shares[2]]) }
        // A copy with the same x but another y is still a duplicate index.
        let forged = try Shamir.Share(
            x: 2, threshold: 3, total: 5, y: try SecretBytes.random(count: 16), setID: shares[0].setID)
        #expect(throws: CryptoError.self) { try Shamir.combine([shares[0], shares[1], forged]) }
    }

    @Test("zero index, mismatched lengths, mismatched parameters and empty input are refused")
    func malformedInputs() throws {
        let set = [UInt8](repeating: 1, count: 16)
        #expect(throws: CryptoError.self) {
            try Shamir.Share(x: 0, threshold: 1, total: 2, y: try SecretBytes.random(count: 4), setID: set)
        }
        #expect(throws: CryptoError.self) {
            try Shamir.Share(x: 3, threshold: 1, total: 2, y: try SecretBytes.random(count: 4), setID: set)
        }
        let a = try Shamir.Share(x: 1, threshold: 2, total: 3, y: try SecretBytes.random(count: 4), setID: set)
        let short = try Shamir.Share(x: 2, threshold: 2, total: 3, y: try SecretBytes.random(count: 3), setID: set)
        let otherK = try Shamir.Share(x: 2, threshold: 3, total: 3, y: try SecretBytes.random(count: 4), setID: set)
        #expect(throws: CryptoError.self) { try Shamir.combine([a, short]) }
        #expect(throws: CryptoError.self) { try Shamir.combine([a, otherK]) }
        #expect(throws: CryptoError.self) { try Shamir.combine([]) }
    }

    @Test("split refuses thresholds and counts outside 1 ≤ k ≤ n ≤ 255")
    func parameterRange() throws {
        let secret = try SecretBytes.random(count: 8)
        for (n, k) in [(5, 0), (3, 4), (256, 2), (0, 0)] {
            #expect(throws: CryptoError.self, "k=\(k) n=\(n)") { try Shamir.split(secret, shares: n, threshold: k) }
        }
        #expect(try Shamir.split(secret, shares: 255, threshold: 255).count == 255)
    }

    @Test("k = 1, n = 1 works and the share is the secret")
    func oneOfOne() throws {
        let secret = try SecretBytes.random(count: 32)
        let shares = try Shamir.split(secret, shares: 1, threshold: 1)
        let share = try #require(shares.first)
        #expect(shares.count == 1 && share.x == 1)
        #expect(share.y.constantTimeEquals(secret))
        #expect(try Shamir.combine(shares).constantTimeEquals(secret))
    }

    // MARK: - Share file

    @Test("share files match the published vectors byte for byte and decode back")
    func fileVectors() throws {
        let files = try Self.vectors().files
        #expect(!files.isEmpty)
        for v in files {
            let setID = try #require([UInt8](hex: v.set))
            let publicKey = try #require([UInt8](hex: v.publicKey))
            let share = try Shamir.Share(
                x: UInt8(v.index), threshold: v.threshold, total: v.shares,
                y: try Self.secret(try #require([UInt8](hex: v.y))), setID: setID)
            #expect(share.encodeFile(publicKey: publicKey) == v.text)
            let decoded = try Shamir.Share.decodeFile(v.text)
            #expect(decoded.publicKey == publicKey)
            #expect(decoded.share.setID == setID && Int(decoded.share.x) == v.index)
            #expect(decoded.share.threshold == v.threshold && decoded.share.total == v.shares)
            #expect(Self.bytes(decoded.share.y) == [UInt8](hex: v.y))
            #expect(v.text.hasSuffix("check: \(v.check)\n"))
        }
    }

    @Test("a share file round-trips, also with CRLF line ends and blank lines, and shares recombine")
    func fileRoundTrip() throws {
        let secret = try SecretBytes.random(count: 32)
        let publicKey = SecureRandom.bytes(32)
        let shares = try Shamir.split(secret, shares: 5, threshold: 3)
        var decoded: [Shamir.Share] = []
        for share in shares {
            let text = share.encodeFile(publicKey: publicKey)
            #expect(text.hasPrefix("consultvault-recovery-share v1\nset: \(share.setID.hex)\n"))
            let back = try Shamir.Share.decodeFile(text)
            #expect(back.publicKey == publicKey)
            #expect(back.share.x == share.x && back.share.setID == share.setID)
            #expect(back.share.threshold == 3 && back.share.total == 5)
            #expect(back.share.y.constantTimeEquals(share.y))
            let retyped = "\n  " + text.replacingOccurrences(of: "\n", with: "\r\n\r\n")
            #expect(try Shamir.Share.decodeFile(retyped).share.y.constantTimeEquals(share.y))
            decoded.append(back.share)
        }
        #expect(try Shamir.combine([decoded[4], decoded[0], decoded[2]]).constantTimeEquals(secret))
    }

    @Test("every single changed character in a share file is detected")
    func flippedCharacter() throws {
        let share = try Shamir.split(try SecretBytes.random(count: 32), shares: 5, threshold: 3)[1]
        let text = Array(share.encodeFile(publicKey: SecureRandom.bytes(32)).utf8)
        var accepted: [Int] = []
        for i in text.indices where text[i] != UInt8(ascii: "\n") {
            var damaged = text
            damaged[i] = text[i] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            if (try? Shamir.Share.decodeFile(String(decoding: damaged, as: UTF8.self))) != nil { accepted.append(i) }
        }
        #expect(accepted.isEmpty, "undetected changes at offsets \(accepted)")
    }

    @Test("a changed share byte that still parses fails with a checksum mismatch")
    func checksumMismatch() throws {
        let share = try Shamir.split(try SecretBytes.random(count: 32), shares: 5, threshold: 3)[2]
        let text = share.encodeFile(publicKey: SecureRandom.bytes(32))
        var lines = text.split(separator: "\n").map(String.init)
        let index = try #require(lines.firstIndex { $0.hasPrefix("share: ") })
        let value = Array(lines[index].dropFirst("share: ".count))
        let replacement: Character = value[0] == "A" ? "B" : "A"  // top six bits of byte 0: stays canonical
        lines[index] = "share: " + String(replacement) + String(value.dropFirst())
        let error = #expect(throws: CryptoError.self) {
            try Shamir.Share.decodeFile(lines.joined(separator: "\n") + "\n")
        }
        #expect(error?.code == .malformed)
        #expect(error?.detail.contains("corrupted: checksum mismatch") == true)
    }

    @Test("share files with missing, repeated or unknown fields or a wrong header are refused")
    func malformedFiles() throws {
        let share = try Shamir.split(try SecretBytes.random(count: 32), shares: 2, threshold: 2)[0]
        let text = share.encodeFile(publicKey: SecureRandom.bytes(32))
        let lines = text.split(separator: "\n").map(String.init)
        let variants = [
            lines.filter { !$0.hasPrefix("index:") },
            lines + ["index: 1"],
            lines + ["comment: hello"],
            ["consultvault-recovery-share v2"] + lines.dropFirst(),
            lines.map { $0.hasPrefix("threshold:") ? "threshold: 02" : $0 },
            lines.map { $0.hasPrefix("threshold:") ? "threshold:2" : $0 },
        ]
        for lines in variants {
            #expect(throws: CryptoError.self) { try Shamir.Share.decodeFile(lines.joined(separator: "\n")) }
        }
        #expect(throws: CryptoError.self) { try Shamir.Share.decodeFile("") }
    }

    // MARK: - Helpers

    struct Vectors: Decodable {
        struct Product: Decodable { let a, b, product: String }
        struct Inverse: Decodable { let a, inverse: String }
        struct Point: Decodable {
            let x: Int
            let y: String
        }
        struct Split: Decodable {
            let name, secret: String
            let threshold, shares: Int
            let coefficients: [String]
            let expected: [Point]
        }
        struct File: Decodable {
            let set, publicKey, y, check, text: String
            let threshold, shares, index: Int
        }
        let multiply: [Product]
        let inverse: [Inverse]
        let splits: [Split]
        let files: [File]
    }

    static func vectors() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/shamir-vectors.json")
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    static func byte(_ hex: String) throws -> UInt8 {
        let bytes = try #require([UInt8](hex: hex))
        try #require(bytes.count == 1)
        return bytes[0]
    }

    static func secret(_ bytes: [UInt8]) throws -> SecretBytes {
        let s = try SecretBytes(zeroedCount: bytes.count)
        s.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
        return s
    }

    static func bytes(_ secret: SecretBytes) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }
}
