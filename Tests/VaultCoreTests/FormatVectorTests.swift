import Foundation
import Testing
import VaultCrypto

@testable import VaultCore

/// schema/FORMAT.md's worked examples, generated independently with PyNaCl (make_vectors.py), checked here
/// against our implementation: a relay or auditor in another language builds the same bytes.
@Suite struct FormatVectorTests {
    let v: [String: Any]

    init() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../VaultCryptoTests/Vectors/format-vectors.json")
        v = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    struct Missing: Error { let key: String }

    func obj(_ k: String) throws -> [String: Any] {
        guard let o = v[k] as? [String: Any] else { throw Missing(key: k) }
        return o
    }
    func list(_ o: [String: Any], _ k: String) throws -> [[String: Any]] {
        guard let l = o[k] as? [[String: Any]] else { throw Missing(key: k) }
        return l
    }
    func str(_ o: [String: Any], _ k: String) throws -> String {
        guard let s = o[k] as? String else { throw Missing(key: k) }
        return s
    }
    func int(_ o: [String: Any], _ k: String) throws -> Int {
        guard let i = o[k] as? Int else { throw Missing(key: k) }
        return i
    }
    func hex(_ o: [String: Any], _ k: String) throws -> [UInt8] {
        guard let b = [UInt8](hex: try str(o, k)) else { throw Missing(key: k) }
        return b
    }
    func id(_ o: [String: Any], _ k: String) throws -> ID {
        guard let i = ID(bytes: try hex(o, k)) else { throw Missing(key: k) }
        return i
    }
    func role(_ s: String) throws -> Role {
        guard let r = Role(rawValue: s) else { throw Missing(key: s) }
        return r
    }
    func outcome(_ s: String) throws -> AuditEntry.Outcome {
        guard let o = AuditEntry.Outcome(rawValue: s) else { throw Missing(key: s) }
        return o
    }
    func secret(_ o: [String: Any], _ k: String) throws -> SecretBytes { try SecretBytes(copying: try hex(o, k)) }

    @Test("canonical encodings and key ids match the vectors")
    func canonicalAndKeyIDs() throws {
        for c in (v["canonical"] as? [[String: Any]]) ?? [] {
            let fields = ((c["fields"] as? [String]) ?? []).compactMap { [UInt8](hex: $0) }
            #expect(Canonical.encode(fields) == (try hex(c, "encoded")))
        }
        for k in (v["key_id"] as? [[String: Any]]) ?? [] {
            #expect(Hashing.keyID(try hex(k, "public_key")) == (try hex(k, "key_id")))
        }
    }

    @Test("the message envelope: AAD, body, labelled key and hash are byte-identical; the sealed key opens")
    func envelope() throws {
        let e = try obj("envelope")
        let mid = try id(e, "message_id")
        let cid = try id(e, "case_id")
        let epochKeyID = try hex(e, "epoch_key_id")
        let sentAt = Int64(try int(e, "sent_at_ms"))
        let aad = Envelope.aad(
            messageID: mid, caseID: cid, epochKeyID: epochKeyID, direction: "inbound", kind: "text", author: "channel",
            sentAt: sentAt)
        #expect(aad == (try hex(e, "aad")))
        let body = try AEAD.seal(
            try hex(e, "plaintext"), aad: aad, key: try secret(e, "message_key"), nonce: try hex(e, "nonce"))
        #expect(body == (try hex(e, "body")))
        let labelled = try LabelledWrap.plaintext(
            try secret(e, "message_key"), label: .messageKey, scope: mid.bytes, keyID: epochKeyID)
        #expect(labelled == (try hex(e, "key_plaintext")))
        let epoch = try BoxKeyPair(secretKey: try secret(e, "epoch_secret_key"), expectedKeyID: epochKeyID)
        let envelope = Envelope(
            messageID: mid, caseID: cid, epochKeyID: epochKeyID, direction: "inbound", kind: "text", author: "channel",
            sentAt: sentAt, body: try hex(e, "body"), key: try hex(e, "key"))
        #expect(try envelope.open(with: epoch) == (try hex(e, "plaintext")))
        #expect(envelope.hash == (try hex(e, "envelope_hash")))
        var altered = envelope
        altered.author = "someone"
        #expect(throws: CryptoError.self) { try altered.open(with: epoch) }
    }

    @Test("envelope v2: session id, session key, AAD, body, wrapped key and hash are byte-identical; reader opens")
    func envelopeV2() throws {
        let e = try obj("envelope_v2")
        let mid = try id(e, "message_id")
        let cid = try id(e, "case_id")
        let epochKeyID = try hex(e, "epoch_key_id")
        let sentAt = Int64(try int(e, "sent_at_ms"))
        let ephemeral = try BoxKeyPair(secretKey: try secret(e, "session_secret_key"))
        #expect(ephemeral.publicKey == (try hex(e, "session_public_key")))
        // The writer's side, from the session secret and the epoch public key.
        let writer = try SenderSessionKey.start(
            caseID: cid.bytes, epochPublicKey: try hex(e, "epoch_public_key"), ephemeral: ephemeral)
        #expect(writer.id == (try hex(e, "session_id")))
        #expect(writer.epochKeyID == epochKeyID)
        let aad = Envelope.aad(
            messageID: mid, caseID: cid, epochKeyID: epochKeyID, sessionID: writer.id, direction: "inbound",
            kind: "text", author: "channel", sentAt: sentAt)
        #expect(aad == (try hex(e, "aad")))
        let (body, key) = try writer.seal(
            try hex(e, "plaintext"), aad: aad, messageKey: try secret(e, "message_key"), bodyNonce: try hex(e, "nonce"),
            keyNonce: try hex(e, "key_nonce"))
        #expect(body == (try hex(e, "body")))
        #expect(key == (try hex(e, "key")))
        // The reader's side, from the epoch secret and the stored session public key.
        let epoch = try BoxKeyPair(secretKey: try secret(e, "epoch_secret_key"), expectedKeyID: epochKeyID)
        let reader = try SenderSessionKey.open(
            id: try hex(e, "session_id"), caseID: cid.bytes, epoch: epoch, sessionPublicKey: ephemeral.publicKey)
        let envelope = Envelope(
            messageID: mid, caseID: cid, epochKeyID: epochKeyID, direction: "inbound", kind: "text", author: "channel",
            sentAt: sentAt, body: body, key: key, sessionID: reader.id)
        #expect(envelope.version == 2)
        #expect(try envelope.open(in: reader) == (try hex(e, "plaintext")))
        #expect(envelope.hash == (try hex(e, "envelope_hash")))
        var altered = envelope
        altered.author = "someone"
        #expect(throws: CryptoError.self) { try altered.open(in: reader) }
        // A session id that does not name this case, epoch and public key is refused before any agreement.
        #expect(throws: CryptoError.self) {
            try SenderSessionKey.open(
                id: try hex(e, "session_id"), caseID: ID.v4().bytes, epoch: epoch,
                sessionPublicKey: ephemeral.publicKey)
        }
        // A version 2 envelope never opens as version 1.
        #expect(throws: CryptoError.self) { try envelope.open(with: epoch) }
    }

    @Test("a labelled desk-queue wrap sealed by PyNaCl opens and checks its key id")
    func labelledWrap() throws {
        let w = try obj("labelled_wrap")
        let recipient = try BoxKeyPair(secretKey: try secret(w, "recipient_secret_key"))
        #expect(recipient.publicKey == (try hex(w, "recipient_public_key")))
        let s = try LabelledWrap.open(
            try hex(w, "sealed"), with: recipient, label: .deskQueue, scope: try hex(w, "scope"),
            keyID: try hex(w, "key_id"))
        #expect(s.withUnsafeBytes { Array($0) } == (try hex(w, "secret")))
        #expect(
            try LabelledWrap.plaintext(s, label: .deskQueue, scope: try hex(w, "scope"), keyID: try hex(w, "key_id"))
                == (try hex(w, "plaintext")))
    }

    @Test("user keys: KEK, wrap AAD and ciphertext, attestation and fingerprint match")
    func userKeys() throws {
        let u = try obj("user_keys")
        let params = KDFParameters(opsLimit: UInt64(try int(u, "ops_limit")), memLimit: try int(u, "mem_limit"))
        let kek = try PasswordKDF.deriveKey(
            passphrase: try str(u, "passphrase"), salt: try hex(u, "salt"), parameters: params)
        #expect(kek.withUnsafeBytes { Array($0) } == (try hex(u, "kek")))
        let uid = try id(u, "user_id")
        let box = try BoxKeyPair(secretKey: try secret(u, "x25519_secret"))
        let sign = try SigningKeyPair(seed: try secret(u, "ed25519_seed"))
        #expect(box.publicKey == (try hex(u, "x25519_public")))
        #expect(sign.publicKey == (try hex(u, "ed25519_public")))
        let aad = Vault.userKeysAAD(userID: uid, boxKeyID: box.keyID, signKeyID: sign.keyID)
        #expect(aad == (try hex(u, "aad")))
        let plain = Canonical.encode([try hex(u, "x25519_secret"), try hex(u, "ed25519_seed")])
        #expect(try AEAD.seal(plain, aad: aad, key: kek, nonce: try hex(u, "nonce")) == (try hex(u, "wrapped")))
        let role = try role(try str(u, "role"))
        let msg = UserKeys.attestationMessage(
            userID: uid, username: try str(u, "username"), role: role, box: box.publicKey, sign: sign.publicKey)
        #expect(msg == (try hex(u, "attestation_message")))
        let vault = try SigningKeyPair(seed: try secret(u, "vault_seed"))
        #expect(vault.sign(msg) == (try hex(u, "attestation")))
        #expect(
            UserKeys.fingerprint(boxPublic: box.publicKey, signPublic: sign.publicKey) == (try str(u, "fingerprint")))
    }

    @Test("epoch signature and desk manifest body and signature match")
    func epochAndManifest() throws {
        let e = try obj("epoch_signature")
        let msg = EpochKey.signedMessage(
            deskID: try id(e, "desk_id"), caseID: try id(e, "case_id"), epoch: try int(e, "epoch"),
            publicKey: try hex(e, "public_key"))
        #expect(msg == (try hex(e, "message")))
        #expect(try SigningKeyPair(seed: try secret(e, "vault_seed")).sign(msg) == (try hex(e, "signature")))

        let m = try obj("manifest")
        let members = try list(m, "members").map { x in
            DeskManifest.Member(
                username: try str(x, "username"), role: try role(try str(x, "role")),
                boxPublic: try hex(x, "x25519_pk"), signPublic: try hex(x, "ed25519_pk"))
        }
        let manifest = DeskManifest(
            deskID: try id(m, "desk_id"), name: try str(m, "name"), version: UInt64(try int(m, "version")),
            queuePublic: try hex(m, "queue_pk"), oversightPublic: try hex(m, "oversight_pk"),
            relayPublic: try hex(m, "relay_pk"),
            recoveryPublic: try hex(m, "recovery_pk"), members: members)
        #expect(manifest.body == (try hex(m, "body")))
        #expect(try DeskManifest(body: manifest.body).body == manifest.body)
        #expect(try SigningKeyPair(seed: try secret(m, "signer_seed")).sign(manifest.body) == (try hex(m, "signature")))
    }

    @Test("audit entries: canonical bytes and the hash chain from 32 zero bytes")
    func auditChain() throws {
        var prev = AuditLog.genesis
        for x in try list(try obj("audit_chain"), "entries") {
            let eh = try hex(x, "envelope_hash")
            let rs = try hex(x, "reason_sealed")
            var e = AuditEntry(
                time: Int64(try int(x, "time_ms")), actor: try str(x, "actor"),
                role: try str(x, "role"), action: try str(x, "action"),
                target: try str(x, "target"),
                outcome: try outcome(try str(x, "outcome")),
                requestID: try str(x, "request_id"), envelopeHash: eh.isEmpty ? nil : eh,
                reasonSealed: rs.isEmpty ? nil : rs)
            e.seq = Int64(try int(x, "seq"))
            #expect(e.canonicalBytes == (try hex(x, "canonical")))
            let h = e.chainHash(previous: prev)
            #expect(h == (try hex(x, "hash")))
            prev = h
        }
    }

    @Test("routing pseudonym, verifier key line and token hash match")
    func routingVerifierToken() throws {
        let r = try obj("routing")
        let routed = try Hashing.keyedBlake2b(
            Canonical.encode([try hex(r, "desk_id"), Array(try str(r, "channel_user").utf8)]),
            key: try secret(r, "pseudonym_key"))
        #expect(routed == (try hex(r, "routing_id")))
        let k = try obj("verifier_key")
        let line = VaultKeys.verifierKey(
            name: "consultvault/\(try str(k, "vault_id"))", publicKey: try hex(k, "public_key"))
        #expect(line == k["line"] as? String)
        let t = try obj("token_hash")
        #expect(Hashing.blake2b(Array(try str(t, "token").utf8)) == (try hex(t, "hash")))
    }
}
