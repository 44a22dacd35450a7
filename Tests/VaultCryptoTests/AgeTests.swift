import Foundation
import Testing
import VaultTestSupport

@testable import VaultCrypto

@Suite struct AgeTests {
    static let vectorDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors/age")

    struct Vector {
        var name: String
        var expect: String
        var payloadSHA256: String?
        var identities: [String]
        var file: [UInt8]
    }

    static func vectors() throws -> [Vector] {
        let names = try FileManager.default.contentsOfDirectory(atPath: vectorDirectory.path).filter {
            $0 != "README.md"
        }
        return try names.sorted().map { name in
            let data = [UInt8](try Data(contentsOf: vectorDirectory.appendingPathComponent(name)))
            let split = try #require(data.indices.first { data[$0] == 10 && $0 + 1 < data.count && data[$0 + 1] == 10 })
            var v = Vector(
                name: name, expect: "", payloadSHA256: nil, identities: [], file: Array(data[(split + 2)...]))
            for line in String(decoding: data[..<split], as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                switch parts[0] {
                case "expect": v.expect = parts[1]
                case "payload": v.payloadSHA256 = parts[1]
                case "identity": v.identities.append(parts[1])
                default: break
                }
            }
            return v
        }
    }

    // MARK: - Bech32

    @Test("Bech32 decodes BIP-173's valid strings and re-encodes them")
    func bech32Valid() throws {
        let valid = [
            "A12UEL5L", "a12uel5l",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl",
        ]
        for s in valid {
            let (hrp, data) = try Bech32.decode(s)
            #expect(Bech32.encode(hrp: hrp, data: data) == s.lowercased(), "\(s)")
        }
    }

    @Test("Bech32 refuses BIP-173's invalid strings: bad characters, no separator, short checksum, mixed case")
    func bech32Invalid() {
        let invalid = [
            "\u{20}1nwldj5", "\u{7F}1axkwrx", "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3",
            "de1lg7wt\u{FF}", "A1G7SGD8", "10a06t8", "1qzzfhee", "a12UEL5L",
        ]
        for s in invalid { #expect(throws: CryptoError.self, "\(s)") { try Bech32.decode(s) } }
    }

    @Test("age keys: the CCTV identity round-trips, a recipient round-trips, wrong prefixes and case are refused")
    func keys() throws {
        let text = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
        let identity = try AgeIdentity(text)
        #expect(identity.encodedSecret() == text)
        #expect("\(identity)".contains("redacted") && !"\(identity)".contains("EGTZ"))
        let r = identity.recipient.description
        #expect(r.hasPrefix("age1") && r.count == 62)
        #expect(try AgeRecipient(r) == identity.recipient)
        #expect(throws: CryptoError.self) { try AgeRecipient(r.uppercased()) }
        #expect(throws: CryptoError.self) { try AgeRecipient(String(r.dropLast()) + (r.last == "q" ? "p" : "q")) }
        #expect(throws: CryptoError.self) { try AgeRecipient(text) }
        #expect(throws: CryptoError.self) { try AgeIdentity(r) }
        #expect(throws: CryptoError.self) { try AgeIdentity(text.lowercased()) }
        let file = "# created: now\n# public key: \(r)\n\(text)\n"
        #expect(try AgeIdentity.parseFile(file).map(\.recipient) == [identity.recipient])
        #expect(throws: CryptoError.self) { try AgeIdentity.parseFile("# nothing\n") }
    }

    // MARK: - CCTV vectors

    @Test(
        "every X25519 CCTV vector: successes match the payload hash, failures fail in the expected class and release only verified chunks"
    )
    func cctvVectors() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 60)
        var successes = 0
        for v in vectors {
            let identities = try v.identities.map { try AgeIdentity($0) }
            var released: [UInt8] = []
            var failure: AgeError?
            do {
                var offset = 0
                let file = v.file
                let d = try AgeDecryptor(identities: identities) { n in
                    let end = min(file.count, offset + n)
                    defer { offset = end }
                    return Array(file[offset..<end])
                }
                while let chunk = try d.next() { released += chunk }
            } catch let e as AgeError {
                failure = e
            }
            switch v.expect {
            case "success":
                #expect(failure == nil, "\(v.name): \(String(describing: failure))")
                successes += 1
            case "header failure": #expect(failure?.kind == .header, "\(v.name): \(String(describing: failure))")
            case "no match": #expect(failure?.kind == .noMatch, "\(v.name): \(String(describing: failure))")
            case "HMAC failure": #expect(failure?.kind == .hmac, "\(v.name): \(String(describing: failure))")
            case "payload failure": #expect(failure?.kind == .payload, "\(v.name): \(String(describing: failure))")
            default: Issue.record("\(v.name): unknown expectation \(v.expect)")
            }
            if let hash = v.payloadSHA256 {
                #expect(Hex.string(Hashing.sha256(released)) == hash, "\(v.name): released plaintext")
            }
        }
        #expect(successes >= 10)
    }

    // MARK: - Round trips and tampering

    @Test("encrypt then decrypt at chunk boundaries (0, 1, 64 KiB − 1, 64 KiB, 64 KiB + 1, 3 × 64 KiB), two recipients")
    func roundTrip() throws {
        let a = try AgeIdentity.generate()
        let b = try AgeIdentity.generate()
        let other = try AgeIdentity.generate()
        for size in [0, 1, 65535, 65536, 65537, 3 * 65536] {
            let plain = SecureRandom.bytes(size)
            let file = try Age.encrypt(plain, to: [a.recipient, b.recipient])
            #expect(file.count == Self.expectedSize(size, header: file.count - Self.expectedSize(size, header: 0)))
            #expect(try Age.decrypt(file, identities: [a]) == plain, "size \(size)")
            #expect(try Age.decrypt(file, identities: [b]) == plain, "size \(size)")
            #expect(throws: AgeError(.noMatch, "no X25519 stanza opens with the identity given")) {
                try Age.decrypt(file, identities: [other])
            }
        }
    }

    static func expectedSize(_ plain: Int, header: Int) -> Int {
        header + plain + 16 * max(1, (plain + 65535) / 65536)
    }

    @Test("a flipped payload byte, a truncation, an extra byte and a flipped header byte are refused")
    func tampering() throws {
        let id = try AgeIdentity.generate()
        let plain = SecureRandom.bytes(70_000)
        let file = try Age.encrypt(plain, to: [id.recipient])
        var flipped = file
        flipped[flipped.count - 100] ^= 1
        #expect(throws: AgeError.self) { try Age.decrypt(flipped, identities: [id]) }
        #expect(throws: AgeError.self) { try Age.decrypt(Array(file.dropLast(17)), identities: [id]) }
        #expect(throws: AgeError.self) { try Age.decrypt(file + [0], identities: [id]) }
        // Dropping the whole last chunk leaves a valid-looking but non-final first chunk.
        #expect(throws: AgeError.self) {
            try Age.decrypt(Array(file.prefix(file.count - (70_000 - 65536 + 16))), identities: [id])
        }
        var header = file
        header[5] ^= 1
        #expect(throws: AgeError.self) { try Age.decrypt(header, identities: [id]) }
    }

    @Test("the encryptor streams: output arrives chunk by chunk before finish, never more than one chunk held back")
    func streaming() throws {
        let id = try AgeIdentity.generate()
        var written = 0
        let e = try AgeEncryptor(recipients: [id.recipient]) { written += $0.count }
        let header = written
        for _ in 0..<10 { try e.update(SecureRandom.bytes(65536)) }
        #expect(written == header + 9 * (65536 + 16))
        try e.finish()
        #expect(written == header + 10 * (65536 + 16))
    }

    // MARK: - Interop with Debian's age

    @Test(
        "age -r to a recipient this code made decrypts here; this code's file decrypts with age -d and an age-keygen identity"
    )
    func interop() throws {
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = SecureRandom.bytes(200_000) + Array("相談記録 interop".utf8)
        let plainURL = dir.appendingPathComponent("plain")
        try Data(plain).write(to: plainURL)

        // age encrypts to our recipient, we decrypt.
        let ours = try AgeIdentity.generate()
        let fromAge = dir.appendingPathComponent("from-age.age")
        let r1 = try AgeTool.run("age", ["-r", ours.recipient.description, "-o", fromAge.path, plainURL.path])
        #expect(r1.status == 0, "\(r1.err)")
        #expect(try Age.decrypt([UInt8](try Data(contentsOf: fromAge)), identities: [ours]) == plain)

        // age-keygen makes an identity; we encrypt to its recipient; age decrypts.
        let keyURL = dir.appendingPathComponent("key.txt")
        #expect(try AgeTool.run("age-keygen", ["-o", keyURL.path]).status == 0)
        let recipient = try AgeTool.run("age-keygen", ["-y", keyURL.path]).out.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let parsed = try AgeIdentity.parseFile(try String(contentsOf: keyURL, encoding: .utf8))
        #expect(parsed.first?.recipient.description == recipient)
        let toAge = dir.appendingPathComponent("to-age.age")
        try Data(try Age.encrypt(plain, to: [try AgeRecipient(recipient)])).write(to: toAge)
        let out = dir.appendingPathComponent("out")
        let r2 = try AgeTool.run("age", ["-d", "-i", keyURL.path, "-o", out.path, toAge.path])
        #expect(r2.status == 0, "\(r2.err)")
        #expect([UInt8](try Data(contentsOf: out)) == plain)

        // Our identity's text form is one age accepts, and age-keygen -y derives the same recipient.
        let ourKey = dir.appendingPathComponent("ours.txt")
        try Data((ours.encodedSecret() + "\n").utf8).write(to: ourKey)
        let y = try AgeTool.run("age-keygen", ["-y", ourKey.path])
        #expect(y.out.trimmingCharacters(in: .whitespacesAndNewlines) == ours.recipient.description)
        let empty = dir.appendingPathComponent("empty.age")
        try Data(try Age.encrypt([], to: [ours.recipient])).write(to: empty)
        let r3 = try AgeTool.run("age", ["-d", "-i", ourKey.path, empty.path])
        #expect(r3.status == 0 && r3.out.isEmpty, "\(r3.err)")
    }
}
