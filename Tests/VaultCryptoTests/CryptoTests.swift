import Testing

@testable import VaultCrypto

@Suite struct CryptoTests {
    @Test("secret bytes print redacted and compare in constant time by content")
    func secretBytes() throws {
        let a = try SecretBytes(copying: [1, 2, 3, 4])
        let b = try SecretBytes(copying: [1, 2, 3, 4])
        let c = try SecretBytes(copying: [1, 2, 3, 5])
        #expect("\(a)" == "<redacted>")
        #expect(String(reflecting: a) == "<redacted>")
        #expect(a.constantTimeEquals(b))
        #expect(!a.constantTimeEquals(c))
        #expect(throws: CryptoError.self) { try SecretBytes(copying: []) }
    }

    @Test("a sealed box opens only with its key pair")
    func sealedBox() throws {
        let alice = try BoxKeyPair.generate()
        let eve = try BoxKeyPair.generate()
        let sealed = try SealedBox.seal(Array("こんにちは".utf8), to: alice.publicKey)
        let opened = try SealedBox.open(sealed, with: alice)
        #expect(opened.withUnsafeBytes { Array($0) } == Array("こんにちは".utf8))
        #expect(throws: CryptoError.self) { try SealedBox.open(sealed, with: eve) }
        var flipped = sealed
        flipped[flipped.count - 1] ^= 1
        #expect(throws: CryptoError.self) { try SealedBox.open(flipped, with: alice) }
        #expect(throws: CryptoError.self) { try SealedBox.seal([1], to: [1, 2, 3]) }
    }

    @Test("AEAD refuses a changed AAD, key or ciphertext")
    func aead() throws {
        let key = try SecretBytes.random(count: 32)
        let box = try AEAD.seal(Array("text".utf8), aad: [1, 2, 3], key: key)
        #expect(try AEAD.open(box, aad: [1, 2, 3], key: key) == Array("text".utf8))
        #expect(throws: CryptoError.self) { try AEAD.open(box, aad: [1, 2, 4], key: key) }
        #expect(throws: CryptoError.self) { try AEAD.open(box, aad: [1, 2, 3], key: SecretBytes.random(count: 32)) }
        var bad = box
        bad[30] ^= 0x80
        #expect(throws: CryptoError.self) { try AEAD.open(bad, aad: [1, 2, 3], key: key) }
        #expect(throws: CryptoError.self) { try AEAD.open([1, 2], aad: [], key: key) }
    }

    @Test("Ed25519 signatures verify only for their message and key")
    func signing() throws {
        let k = try SigningKeyPair.generate()
        let sig = k.sign([1, 2, 3])
        #expect(SigningKeyPair.verify(signature: sig, message: [1, 2, 3], publicKey: k.publicKey))
        #expect(!SigningKeyPair.verify(signature: sig, message: [1, 2, 4], publicKey: k.publicKey))
        #expect(
            !SigningKeyPair.verify(
                signature: sig, message: [1, 2, 3], publicKey: try SigningKeyPair.generate().publicKey))
        #expect(!SigningKeyPair.verify(signature: [1], message: [1, 2, 3], publicKey: k.publicKey))
        let again = try SigningKeyPair(seed: k.seed, expectedPublicKey: k.publicKey)
        #expect(again.publicKey == k.publicKey)
        #expect(throws: CryptoError.self) {
            try SigningKeyPair(seed: SecretBytes.random(count: 32), expectedPublicKey: k.publicKey)
        }
    }

    @Test("a labelled wrap refuses another label, scope or key id, and a secret for another public key")
    func labelledWrap() throws {
        let recipient = try BoxKeyPair.generate()
        let desk = try BoxKeyPair.generate()
        let scope = [UInt8](repeating: 7, count: 16)
        let sealed = try LabelledWrap.seal(
            desk.secretKey, label: .deskQueue, scope: scope, keyID: desk.keyID, to: recipient.publicKey)
        let opened = try LabelledWrap.openBoxKey(
            sealed, with: recipient, label: .deskQueue, scope: scope, keyID: desk.keyID)
        #expect(opened.publicKey == desk.publicKey)
        #expect(throws: CryptoError.self) {
            try LabelledWrap.open(sealed, with: recipient, label: .deskOversight, scope: scope, keyID: desk.keyID)
        }
        #expect(throws: CryptoError.self) {
            try LabelledWrap.open(
                sealed, with: recipient, label: .deskQueue, scope: [UInt8](repeating: 8, count: 16), keyID: desk.keyID)
        }
        // A wrap whose key id names another key: the recomputed public key does not match.
        let other = try BoxKeyPair.generate()
        let lying = try LabelledWrap.seal(
            other.secretKey, label: .deskQueue, scope: scope, keyID: desk.keyID, to: recipient.publicKey)
        #expect(throws: CryptoError.self) {
            try LabelledWrap.openBoxKey(lying, with: recipient, label: .deskQueue, scope: scope, keyID: desk.keyID)
        }
    }

    @Test("Argon2id is deterministic for a salt and differs by passphrase")
    func kdf() throws {
        let salt = [UInt8](repeating: 1, count: 16)
        let p = KDFParameters.profile(.test)
        let a = try PasswordKDF.deriveKey(passphrase: "one passphrase", salt: salt, parameters: p)
        let b = try PasswordKDF.deriveKey(passphrase: "one passphrase", salt: salt, parameters: p)
        let c = try PasswordKDF.deriveKey(passphrase: "another passphrase", salt: salt, parameters: p)
        #expect(a.constantTimeEquals(b))
        #expect(!a.constantTimeEquals(c))
        #expect(KDFParameters.profile(.moderate).isAtLeast(.profile(.interactive)))
        #expect(throws: CryptoError.self) { try PasswordKDF.deriveKey(passphrase: "x", salt: [1], parameters: p) }
    }

    @Test("canonical encoding round-trips and refuses truncation")
    func canonical() throws {
        let fields: [[UInt8]] = [[], [1], Array("いじめ".utf8)]
        let enc = Canonical.encode(fields)
        #expect(try Canonical.decode(enc) == fields)
        #expect(throws: CryptoError.self) { try Canonical.decode(Array(enc.dropLast())) }
        #expect(Canonical.u64(UInt64(1)) == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect([UInt8](hex: "00ff10") == [0, 255, 16])
        #expect([UInt8](hex: "0g") == nil)
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmac() throws {
        let key = try SecretBytes(copying: Array("Jefe".utf8))
        let mac = Hashing.hmacSHA256(Array("what do ya want for nothing?".utf8), key: key)
        #expect(mac.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("a message key opened on the stack decrypts like the heap path and refuses every wrong wrap")
    func openWithWrappedKey() throws {
        let epoch = try BoxKeyPair.generate()
        let other = try BoxKeyPair.generate()
        let scope = Array(repeating: UInt8(7), count: 16)
        let plaintext = Array(#"{"text":"相談 😢"}"#.utf8)
        let aad = Canonical.encode([[1], scope, epoch.keyID])
        let (body, key) = try LabelledWrap.sealWithFreshKey(
            plaintext, aad: aad, label: .messageKey, scope: scope, keyID: epoch.keyID, to: epoch.publicKey)
        let open = { (body: [UInt8], aad: [UInt8], wrap: [UInt8], with: BoxKeyPair, scope: [UInt8], keyID: [UInt8]) in
            try LabelledWrap.openWithWrappedKey(
                body: body, aad: aad, wrap: wrap, with: with, label: .messageKey, scope: scope, keyID: keyID)
        }
        #expect(try open(body, aad, key, epoch, scope, epoch.keyID) == plaintext)
        // The heap path (open the wrap to SecretBytes, then AEAD) gives the same bytes.
        let k = try LabelledWrap.open(key, with: epoch, label: .messageKey, scope: scope, keyID: epoch.keyID)
        #expect(try AEAD.open(body, aad: aad, key: k) == plaintext)

        func code(_ f: () throws -> [UInt8]) -> CryptoError.Code? {
            do {
                _ = try f()
                return nil
            } catch let e as CryptoError {
                return e.code
            } catch {
                return .initializationFailed
            }
        }
        var flipped = body
        flipped[30] ^= 1
        #expect(code { try open(flipped, aad, key, epoch, scope, epoch.keyID) } == .decryptionFailed)
        #expect(code { try open(body, aad + [0], key, epoch, scope, epoch.keyID) } == .decryptionFailed)
        #expect(code { try open(body, aad, key, other, scope, epoch.keyID) } == .decryptionFailed)
        var badScope = scope
        badScope[0] ^= 1
        #expect(code { try open(body, aad, key, epoch, badScope, epoch.keyID) } == .wrongLabel)
        #expect(code { try open(body, aad, key, epoch, scope, other.keyID) } == .wrongLabel)
        // Another kind of key wrapped under the same scope and key id is refused by its label.
        let (_, epochWrap) = try LabelledWrap.sealWithFreshKey(
            plaintext, aad: aad, label: .contentKey, scope: scope, keyID: epoch.keyID, to: epoch.publicKey)
        #expect(code { try open(body, aad, epochWrap, epoch, scope, epoch.keyID) } != nil)
        // A wrap of a key of the wrong length, or a truncated wrap, is refused before anything is decrypted.
        let short = try LabelledWrap.seal(
            SecretBytes(copying: Array(repeating: 1, count: 31)), label: .messageKey, scope: scope,
            keyID: epoch.keyID, to: epoch.publicKey)
        #expect(code { try open(body, aad, short, epoch, scope, epoch.keyID) } == .malformed)
        #expect(code { try open(body, aad, Array(key.dropLast()), epoch, scope, epoch.keyID) } == .malformed)
        #expect(code { try open(Array(body.prefix(39)), aad, key, epoch, scope, epoch.keyID) } == .invalidLength)
    }
}
