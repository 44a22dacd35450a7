internal import CSodium

/// age's payload STREAM: 64 KiB plaintext chunks, each sealed with ChaCha20-Poly1305 (IETF) under the payload
/// key with nonce = 11-byte big-endian chunk counter ‖ 0x01 for the last chunk, 0x00 otherwise.
enum AgeSTREAM {
    static let chunkSize = 64 * 1024
    static let tagSize = 16

    static func nonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var n = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { n[10 - i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
        n[11] = last ? 1 : 0
        return n
    }

    static func seal(_ plaintext: UnsafeRawBufferPointer, counter: UInt64, last: Bool, key: SecretBytes) throws
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: plaintext.count + tagSize)
        var outLength: UInt64 = 0
        let n = nonce(counter, last: last)
        let rc = key.withUnsafeBytes { k in
            crypto_aead_chacha20poly1305_ietf_encrypt(
                &out, &outLength, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                UInt64(plaintext.count), nil, 0, nil, n, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try Sodium.check(rc, .malformed, "ChaCha20-Poly1305 seal failed")
        return out
    }

    static func open(_ chunk: [UInt8], counter: UInt64, last: Bool, key: SecretBytes) -> [UInt8]? {
        guard chunk.count >= tagSize else { return nil }
        var out = [UInt8](repeating: 0, count: chunk.count - tagSize)
        var outLength: UInt64 = 0
        let n = nonce(counter, last: last)
        let rc = out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    o.baseAddress?.assumingMemoryBound(to: UInt8.self), &outLength, nil, chunk, UInt64(chunk.count),
                    nil,
                    0, n, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return rc == 0 ? out : nil
    }

    static func payloadKey(fileKey: SecretBytes, nonce: [UInt8]) throws -> SecretBytes {
        try fileKey.withUnsafeBytes { try HKDF.derive(ikm: $0, salt: nonce, info: "payload", length: 32) }
    }

    static func headerMAC(fileKey: SecretBytes, macInput: [UInt8]) throws -> [UInt8] {
        let key = try fileKey.withUnsafeBytes { try HKDF.derive(ikm: $0, salt: [], info: "header", length: 32) }
        var mac = key.withUnsafeBytes { HMACSHA256(key: $0) }
        mac.update(macInput)
        return mac.finish()
    }
}

/// Encrypts a stream of any length to age recipients, holding at most one 64 KiB chunk: the header and each
/// sealed chunk go to `write` as soon as they are known. Call `finish()` once at the end.
public final class AgeEncryptor {
    private let write: ([UInt8]) throws -> Void
    private let payloadKey: SecretBytes
    private var buffer: [UInt8]
    private var filled = 0
    private var counter: UInt64 = 0
    private var finished = false

    /// Writes the header (a fresh 16-byte file key wrapped to every recipient, its MAC) and the payload nonce.
    /// - Throws: `CryptoError` when a recipient is a low-order point or `write` throws.
    public init(recipients: [AgeRecipient], write: @escaping ([UInt8]) throws -> Void) throws {
        try Sodium.ready()
        guard !recipients.isEmpty else { throw CryptoError(.malformed, "an age file needs a recipient") }
        let fileKey = try SecretBytes.random(count: 16, transient: true)
        let stanzas = try recipients.map { try AgeX25519.wrap(fileKey: fileKey, to: $0) }
        let macInput = AgeHeader.macInput(for: stanzas)
        let mac = try AgeSTREAM.headerMAC(fileKey: fileKey, macInput: macInput)
        let nonce = SecureRandom.bytes(16)
        payloadKey = try AgeSTREAM.payloadKey(fileKey: fileKey, nonce: nonce)
        buffer = [UInt8](repeating: 0, count: AgeSTREAM.chunkSize)
        self.write = write
        try write(macInput + [UInt8(ascii: " ")] + AgeBase64.encode(mac) + [UInt8(ascii: "\n")] + nonce)
    }

    deinit { SecretBytes.wipe(&buffer) }

    /// Adds plaintext; full chunks are sealed once more data shows they are not the last.
    public func update(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "update after finish")
        var offset = 0
        while offset < bytes.count {
            if filled == AgeSTREAM.chunkSize { try flush(last: false) }
            let n = min(AgeSTREAM.chunkSize - filled, bytes.count - offset)
            buffer.withUnsafeMutableBytes { b in
                (b.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            }
            filled += n
            offset += n
        }
    }

    /// Adds plaintext.
    public func update(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try update($0) } }

    /// Seals the last chunk (empty only when the whole payload is).
    public func finish() throws {
        precondition(!finished, "finish twice")
        try flush(last: true)
        finished = true
        SecretBytes.wipe(&buffer)
    }

    private func flush(last: Bool) throws {
        let sealed = try buffer.withUnsafeBytes {
            try AgeSTREAM.seal(
                UnsafeRawBufferPointer(rebasing: $0[0..<filled]), counter: counter, last: last, key: payloadKey)
        }
        counter += 1
        filled = 0
        try write(sealed)
    }
}

/// Decrypts an age file chunk by chunk: the header is parsed and its MAC checked at init, then `next()`
/// returns each verified plaintext chunk (at most 64 KiB), nil once the last chunk and the end of input are seen.
public final class AgeDecryptor {
    private let reader: ByteReader
    private let payloadKey: SecretBytes
    private var counter: UInt64 = 0
    private var done = false
    private var pending: AgeError?

    /// - Parameter read: returns up to the given number of bytes, an empty array at the end.
    /// - Throws: `AgeError` (header, no match, HMAC).
    public init(identities: [AgeIdentity], read: @escaping (Int) throws -> [UInt8]) throws {
        try Sodium.ready()
        reader = ByteReader(read)
        let header = try AgeHeader.parse(reader)
        var fileKey: SecretBytes?
        for stanza in header.stanzas where stanza.arguments[0] == "X25519" {
            for identity in identities {
                if let key = try AgeX25519.unwrap(stanza, identity: identity) {
                    guard key.count == 16 else { throw AgeError(.header, "the file key is 16 bytes") }
                    fileKey = key
                    break
                }
            }
            if fileKey != nil { break }
        }
        guard let fileKey else { throw AgeError(.noMatch, "no X25519 stanza opens with the identity given") }
        let mac = try AgeSTREAM.headerMAC(fileKey: fileKey, macInput: header.macInput)
        guard SecretBytes.constantTimeEquals(mac, header.mac) else {
            throw AgeError(.hmac, "the header MAC does not verify")
        }
        let nonce = try reader.read(16)
        guard nonce.count == 16 else { throw AgeError(.header, "the payload nonce is missing or short") }
        payloadKey = try AgeSTREAM.payloadKey(fileKey: fileKey, nonce: nonce)
    }

    /// The next plaintext chunk, or nil at the verified end. A chunk is returned only once its tag verified; a
    /// failure found after it (no final chunk, data after the final one) is thrown by the next call, so a reader
    /// gets the authentic prefix and then the error, as age's reference implementation does.
    /// - Throws: `AgeError.payload` for a truncated, altered or extended payload.
    public func next() throws -> [UInt8]? {
        if let pending {
            self.pending = nil
            done = true
            throw pending
        }
        if done { return nil }
        let sealedSize = AgeSTREAM.chunkSize + AgeSTREAM.tagSize
        let chunk = try reader.read(sealedSize)
        guard chunk.count >= AgeSTREAM.tagSize else {
            done = true
            throw AgeError(.payload, "a chunk is missing or short")
        }
        let plain: [UInt8]
        let last: Bool
        if chunk.count < sealedSize {
            // A short chunk can only be the last one.
            guard let p = AgeSTREAM.open(chunk, counter: counter, last: true, key: payloadKey) else {
                done = true
                throw AgeError(.payload, "chunk \(counter) does not verify")
            }
            (plain, last) = (p, true)
        } else if let p = AgeSTREAM.open(chunk, counter: counter, last: false, key: payloadKey) {
            (plain, last) = (p, false)
        } else if let p = AgeSTREAM.open(chunk, counter: counter, last: true, key: payloadKey) {
            (plain, last) = (p, true)
        } else {
            done = true
            throw AgeError(.payload, "chunk \(counter) does not verify")
        }
        counter += 1
        if last {
            guard plain.count > 0 || counter == 1 else {
                done = true
                throw AgeError(.payload, "the last chunk is empty")
            }
            if try reader.atEnd() { done = true } else { pending = AgeError(.payload, "data after the last chunk") }
        } else if try reader.atEnd() {
            pending = AgeError(.payload, "the file ends without a last chunk")
        }
        return plain
    }
}

/// Whole-buffer helpers over AgeEncryptor and AgeDecryptor (for small files and tests).
public enum Age {
    /// An age file of `plaintext` for `recipients`.
    /// - Throws: `CryptoError` when a recipient is unusable.
    public static func encrypt(_ plaintext: [UInt8], to recipients: [AgeRecipient]) throws -> [UInt8] {
        var out: [UInt8] = []
        let encryptor = try AgeEncryptor(recipients: recipients) { out += $0 }
        try encryptor.update(plaintext)
        try encryptor.finish()
        return out
    }

    /// The plaintext of an age file.
    /// - Throws: `AgeError`.
    public static func decrypt(_ file: [UInt8], identities: [AgeIdentity]) throws -> [UInt8] {
        var offset = 0
        let decryptor = try AgeDecryptor(identities: identities) { n in
            let end = min(file.count, offset + n)
            defer { offset = end }
            return Array(file[offset..<end])
        }
        var out: [UInt8] = []
        while let chunk = try decryptor.next() { out += chunk }
        return out
    }
}
