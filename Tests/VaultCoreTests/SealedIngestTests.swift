import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Relay-sealed envelopes made outside Swift from schema/FORMAT.md alone (PyNaCl, Vectors/make_sealed_vectors.py).
@Suite struct SealedIngestTests {
    struct Vectors: Decodable {
        struct Form: Decodable {
            let messageId: String
            let keyId: String
            let sentAt: String
            let kind: String
            let body: String
            let key: String
            let version: Int?
            let sessionPublicKey: String?
        }
        let epochSecretKey: String
        let caseId: String
        let channelUser: String
        let good: Form
        let goodText: String
        let altered: Form
        let second: Form
        let goodV2: Form
        let goodV2Text: String
        let goodV2B: Form
        let goodV2BText: String
        let alteredV2: Form
    }

    static func load() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/sealed-vectors.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Vectors.self, from: Data(contentsOf: url))
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func inbound(_ v: Vectors, _ form: Vectors.Form, external: String) throws -> SealedInbound {
        SealedInbound(
            desk: "ijime", channelUser: v.channelUser, externalID: external, caseID: try #require(ID(v.caseId)),
            messageID: try #require(ID(form.messageId)), keyID: hex(form.keyId),
            sentAt: try #require(Timestamp.parse(form.sentAt)), kind: form.kind,
            body: Array(try #require(Data(base64Encoded: form.body))),
            key: Array(try #require(Data(base64Encoded: form.key))),
            sessionPublicKey: try form.sessionPublicKey.map { Array(try #require(Data(base64Encoded: $0))) })
    }

    /// The vectors' case, made through the vault's own routing with the vectors' case id and epoch-0 key.
    static func vectorCase(_ f: Fixture, _ v: Vectors) async throws -> ID {
        let epoch0 = try BoxKeyPair(secretKey: try SecretBytes(copying: Self.hex(v.epochSecretKey)))
        let caseID = try #require(ID(v.caseId))
        try await f.vault.database.transaction { db in
            let desk = try #require(try f.vault.desk(db, name: "ijime"))
            _ = try f.vault.routeCase(db, desk: desk, channelUser: v.channelUser, newCaseID: caseID, epoch0: epoch0)
        }
        return caseID
    }

    @Test("version 2: PyNaCl-built envelopes of one relay session are stored with one session row and read back")
    func externalEnvelopeV2() async throws {
        let v = try Self.load()
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await Self.vectorCase(f, v)
        // A version 1 and two version 2 messages of one session, and one whose sent_at was changed afterwards.
        _ = try await f.vault.ingestSealed(try Self.inbound(v, v.good, external: "v1"), relay: f.relay, requestID: "a")
        _ = try await f.vault.ingestSealed(
            try Self.inbound(v, v.goodV2, external: "v2a"), relay: f.relay, requestID: "b")
        _ = try await f.vault.ingestSealed(
            try Self.inbound(v, v.goodV2B, external: "v2b"), relay: f.relay, requestID: "c")
        _ = try await f.vault.ingestSealed(
            try Self.inbound(v, v.alteredV2, external: "v2c"), relay: f.relay, requestID: "d")
        let again = try await f.vault.ingestSealed(
            try Self.inbound(v, v.goodV2, external: "v2a"), relay: f.relay, requestID: "e")
        #expect(again.duplicate)
        let (sessions, keyLengths) = try await f.vault.database.read { db in
            (
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM sender_sessions WHERE case_id = ?", arguments: [Data(caseID.bytes)]),
                try Int.fetchAll(
                    db, sql: "SELECT length(sealed_key) FROM messages WHERE case_id = ? ORDER BY seq",
                    arguments: [Data(caseID.bytes)])
            )
        }
        #expect(sessions == 1)
        #expect(keyLengths == [155, 72, 72, 72])
        let cou1 = try await f.unlock("cou1")
        let messages = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "read")
        #expect(messages.map(\.text) == [v.goodText, v.goodV2Text, v.goodV2BText, nil])
        #expect(messages[3].data?["error"] == .string("does_not_authenticate"))

        // Bad version 2 shapes: a 155-byte key, a low-order session key, no session key; nothing stored.
        var bad = try Self.inbound(v, v.second, external: "x1")
        let sessionKey = try #require(v.goodV2.sessionPublicKey)
        bad.sessionPublicKey = Array(try #require(Data(base64Encoded: sessionKey)))
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "x1") }
        bad = try Self.inbound(v, v.goodV2B, external: "x2")
        bad.messageID = ID.v7(milliseconds: 1_795_000_009_000)
        bad.sessionPublicKey = [UInt8](repeating: 0, count: 32)
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "x2") }
        bad.sessionPublicKey = nil
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "x3") }
        let count = try await f.vault.database.read { db in try MessageStore.count(db, caseID: caseID) }
        #expect(count == 4)
    }

    @Test("a PyNaCl-built envelope is stored unopened and reads back; altered AAD does not; a stale epoch is 409")
    func externalEnvelope() async throws {
        let v = try Self.load()
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await Self.vectorCase(f, v)
        let epoch0 = try BoxKeyPair(secretKey: try SecretBytes(copying: Self.hex(v.epochSecretKey)))
        let route = try await f.vault.routeIntake(
            desk: "ijime", channelUser: v.channelUser, relay: f.relay, requestID: "route")
        #expect(route.caseID == caseID)
        #expect(route.caseID.description == v.caseId)
        #expect(route.keyID.hex == v.good.keyId)
        #expect(route.publicKey == epoch0.publicKey)

        let stored = try await f.vault.ingestSealed(
            try Self.inbound(v, v.good, external: "s-1"), relay: f.relay, requestID: "s1")
        #expect(stored.duplicate == false)
        #expect(stored.messageID.description == v.good.messageId)
        let again = try await f.vault.ingestSealed(
            try Self.inbound(v, v.good, external: "s-1"), relay: f.relay, requestID: "s1b")
        #expect(again.duplicate == true)
        _ = try await f.vault.ingestSealed(
            try Self.inbound(v, v.altered, external: "s-2"), relay: f.relay, requestID: "s2")

        let cou1 = try await f.unlock("cou1")
        let messages = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "read")
        #expect(messages.count == 2)
        #expect(messages[0].text == v.goodText)
        #expect(messages[0].sentAt == Timestamp.parse(v.good.sentAt))
        #expect(messages[1].text == nil)
        #expect(messages[1].data?["error"] == .string("does_not_authenticate"))

        // The case moves to a new epoch (assignment): an envelope for epoch 0 is refused with 409, nothing stored.
        try await f.vault.assign(caseID: caseID, to: "cou1", as: cou1, requestID: "take")
        do {
            _ = try await f.vault.ingestSealed(
                try Self.inbound(v, v.second, external: "s-3"), relay: f.relay, requestID: "s3")
            Issue.record("a stale key id was accepted")
        } catch let e as VaultError {
            #expect(e.code == .conflict)
        }
        // Bad shapes: a v4 message id, a short key, an unknown kind, another user's case.
        var bad = try Self.inbound(v, v.second, external: "s-4")
        bad.messageID = ID.v4()
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "b1") }
        bad = try Self.inbound(v, v.second, external: "s-5")
        bad.key = Array(bad.key.dropLast())
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "b2") }
        bad = try Self.inbound(v, v.second, external: "s-6")
        bad.kind = "note"
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "b3") }
        bad = try Self.inbound(v, v.second, external: "s-7")
        bad.channelUser = "Usomeoneelse"
        await #expect(throws: VaultError.self) { try await f.vault.ingestSealed(bad, relay: f.relay, requestID: "b4") }
        let count = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(caseID.bytes)])
        }
        #expect(count == 2)
    }
}
