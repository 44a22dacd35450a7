import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Envelope version 2 (schema/FORMAT.md §1.8): every path seals in a sender session; a message moved to another
/// case, epoch or session, or a swapped session key, fails as an integrity failure; sessions end at their limits.
@Suite struct EnvelopeV2Tests {
    /// Each message row of a case: (id, session id, sealed key length), in seq order.
    static func rows(_ f: Fixture, _ caseID: ID) async throws -> [(id: ID, session: [UInt8]?, keyLength: Int)] {
        try await f.vault.database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, session_id, length(sealed_key) FROM messages WHERE case_id = ? ORDER BY seq",
                arguments: [Data(caseID.bytes)]
            ).map { row in
                (ID(bytes: Array(row[0] as Data))!, (row[1] as Data?).map { Array($0) }, row[2])
            }
        }
    }

    static func sessionCount(_ f: Fixture, _ caseID: ID) async throws -> Int {
        try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM sender_sessions WHERE case_id = ?", arguments: [Data(caseID.bytes)])
                ?? 0
        }
    }

    /// Reads the whole case as a freshly unlocked `user` (no cached keys or sessions).
    static func read(_ f: Fixture, _ caseID: ID, as username: String) async throws -> [TranscriptMessage] {
        let user = try await f.unlock(username)
        return try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 1000, as: user, requestID: "read")
    }

    /// Expects the read to fail as an integrity failure.
    static func expectIntegrityFailure(_ f: Fixture, _ caseID: ID, as username: String) async throws {
        do {
            _ = try await Self.read(f, caseID, as: username)
            Issue.record("an altered case was read")
        } catch let e as VaultError {
            #expect(e.code == .integrity, "\(e)")
        }
    }

    @Test("every path seals version 2 (LINE text, image and its content key, follow, plain, reply, note) and reads")
    func everyPath() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await RichCase.prepare(f)
        let rich = try await RichCase.make(f, tag: "v2", .keepOpen)
        let plain = try await f.vault.ingest(f.text("PLAIN-v2", user: "U-v2"), relay: f.relay, requestID: "plain")
        #expect(plain.caseID == rich.caseID)
        let rows = try await Self.rows(f, rich.caseID)
        #expect(rows.count == 7)
        #expect(rows.allSatisfy { $0.session != nil && $0.keyLength == SenderSessionKey.wrapLength })
        // Epoch 0 (the webhook's four messages) and epoch 1 (after the assignment): one session each.
        #expect(try await Self.sessionCount(f, rich.caseID) == 2)
        #expect(Set(rows.compactMap(\.session)).count == 2)
        let contentSession = try await f.vault.database.read { db in
            try Data.fetchOne(
                db, sql: "SELECT session_id FROM message_content WHERE message_id = ?",
                arguments: [Data(rich.imageID.bytes)])
        }
        #expect(contentSession.map { Array($0) } == rows[1].session)

        let cou1 = try await f.unlock("cou1")
        let messages = try await f.vault.transcript(
            caseID: rich.caseID, afterSeq: 0, limit: 100, as: cou1, requestID: "read")
        #expect(messages.map(\.kind) == ["text", "image", "follow", "image", "text", "text", "text"])
        #expect(
            messages.map(\.direction) == ["inbound", "inbound", "event", "inbound", "outbound", "note", "inbound"])
        #expect(messages[0].text == "CANARY-v2 たすけて")
        #expect(messages[4].text == "REPLY-v2")
        #expect(messages[5].text == "NOTE-v2")
        #expect(messages[6].text == "PLAIN-v2")
        #expect(messages[1].data?["content_available"] == .bool(true))
        let reader = try await f.vault.openContent(
            caseID: rich.caseID, messageID: rich.imageID, as: cou1, requestID: "content")
        var bytes: [UInt8] = []
        while let chunk = try await reader.next() { bytes += chunk }
        #expect(bytes == [UInt8](repeating: 0x5A, count: ContentUpload.chunkSize + 100))
        // The reader keeps the opened sessions for its session's lifetime, and forgets them with it.
        for id in Set(rows.compactMap(\.session)) { #expect(cou1.cachedSession(id) != nil) }
        cou1.forget()
        #expect(rows.compactMap(\.session).allSatisfy { cou1.cachedSession($0) == nil })
    }

    @Test("a page mixing version 1 and version 2 envelopes reads in order")
    func mixedVersions() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let first = try await f.vault.ingest(f.text("v2 first"), relay: f.relay, requestID: "a")
        // A version 1 envelope as stored before this version, in the same case and epoch.
        try await f.vault.database.transaction { db in
            let c = try #require(try f.vault.findCase(db, id: first.caseID))
            let epoch = try f.vault.epochKey(db, case: c, epoch: c.currentEpoch)
            let v1 = try Envelope.seal(
                plaintext: Plaintext.text("v1 stored earlier"), messageID: ID.v7(milliseconds: f.vault.now()),
                caseID: c.id, epochPublicKey: epoch.publicKey, direction: "inbound", kind: "text", author: "channel",
                sentAt: 1_795_000_000_500)
            #expect(v1.version == 1)
            try MessageStore.insert(db, v1, case: c, externalID: "v1", writtenBy: "relay:relay1", now: f.vault.now())
        }
        _ = try await f.vault.ingest(f.text("v2 again"), relay: f.relay, requestID: "b")
        let rows = try await Self.rows(f, first.caseID)
        #expect(rows.map(\.keyLength) == [72, 155, 72])
        #expect(rows[1].session == nil)
        let texts = try await Self.read(f, first.caseID, as: "cou1").map(\.text)
        #expect(texts == ["v2 first", "v1 stored earlier", "v2 again"])
    }

    @Test("a swapped session key, or a message moved to another case, epoch or session, is an integrity failure")
    func movedOrSwapped() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let a1 = try await f.vault.ingest(f.text("A one", user: "U-a"), relay: f.relay, requestID: "a1")
        clock.advance(seconds: 11 * 60)  // the session's lifetime is over: the next message starts another
        let a2 = try await f.vault.ingest(f.text("A two", user: "U-a"), relay: f.relay, requestID: "a2")
        let b1 = try await f.vault.ingest(f.text("B one", user: "U-b"), relay: f.relay, requestID: "b1")
        let rowsA = try await Self.rows(f, a1.caseID)
        let s1 = try #require(rowsA[0].session)
        let s2 = try #require(rowsA[1].session)
        #expect(s1 != s2)
        #expect(try await Self.read(f, a1.caseID, as: "cou1").map(\.text) == ["A one", "A two"])

        func update(_ sql: String, _ arguments: StatementArguments) async throws {
            try await f.vault.database.transaction { db in try db.execute(sql: sql, arguments: arguments) }
        }
        // Another session of the same case and epoch: the wrapped key does not authenticate in it.
        try await update("UPDATE messages SET session_id = ? WHERE id = ?", [Data(s2), Data(a1.messageID.bytes)])
        try await Self.expectIntegrityFailure(f, a1.caseID, as: "cou1")
        try await update("UPDATE messages SET session_id = ? WHERE id = ?", [Data(s1), Data(a1.messageID.bytes)])
        #expect(try await Self.read(f, a1.caseID, as: "cou1").count == 2)

        // The session's stored public key swapped for another: the id no longer names it.
        let original = try await f.vault.database.read { db in try #require(try SenderSessions.find(db, id: s1)) }
        try await update(
            "UPDATE sender_sessions SET public_key = ? WHERE id = ?",
            [Data(try BoxKeyPair.generate().publicKey), Data(s1)])
        try await Self.expectIntegrityFailure(f, a1.caseID, as: "cou1")
        try await update(
            "UPDATE sender_sessions SET public_key = ? WHERE id = ?", [Data(original.publicKey), Data(s1)])
        #expect(try await Self.read(f, a1.caseID, as: "cou1").count == 2)

        // Moved to another case (B's), with its session: the session id does not name case B.
        try await update(
            "UPDATE messages SET case_id = ?, seq = 99 WHERE id = ?", [Data(b1.caseID.bytes), Data(a2.messageID.bytes)])
        try await Self.expectIntegrityFailure(f, b1.caseID, as: "cou1")
        try await update(
            "UPDATE messages SET case_id = ?, seq = 2 WHERE id = ?", [Data(a1.caseID.bytes), Data(a2.messageID.bytes)])

        // Moved to another epoch of its case (a new epoch after an assignment).
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: a1.caseID, to: "cou1", as: cou1, requestID: "take")
        let a3 = try await f.vault.ingest(f.text("A three", user: "U-a"), relay: f.relay, requestID: "a3")
        let epoch1 = try await f.vault.database.read { db in
            try Data.fetchOne(
                db, sql: "SELECT epoch_key_id FROM messages WHERE id = ?", arguments: [Data(a3.messageID.bytes)])
        }
        try await update("UPDATE messages SET epoch_key_id = ? WHERE id = ?", [epoch1, Data(a1.messageID.bytes)])
        try await Self.expectIntegrityFailure(f, a1.caseID, as: "cou1")
        // Each failed read is in the log as an error.
        let errors = try await f.vault.database.read { db in
            try AuditLog.entries(in: db, limit: 100_000).filter {
                $0.action == "transcript.read" && $0.outcome == .error
            }
        }
        #expect(errors.count >= 3)
    }

    @Test("a session ends after 10,000 messages, after 10 minutes, at an epoch change and at shutdown")
    func sessionLimits() async throws {
        let sessions = SenderSessions()
        let caseID = ID.v7(milliseconds: 1_795_000_000_000)
        let epochA = try BoxKeyPair.generate()
        let epochB = try BoxKeyPair.generate()
        let t0: Int64 = 1_795_000_000_000
        let first = try sessions.session(caseID: caseID, epochPublicKey: epochA.publicKey, now: t0)
        for _ in 2...SenderSessions.messageLimit {
            #expect(try sessions.session(caseID: caseID, epochPublicKey: epochA.publicKey, now: t0).id == first.id)
        }
        let second = try sessions.session(caseID: caseID, epochPublicKey: epochA.publicKey, now: t0)
        #expect(second.id != first.id)
        let almost = t0 + SenderSessions.lifetimeMilliseconds - 1
        #expect(try sessions.session(caseID: caseID, epochPublicKey: epochA.publicKey, now: almost).id == second.id)
        let third = try sessions.session(
            caseID: caseID, epochPublicKey: epochA.publicKey, now: t0 + SenderSessions.lifetimeMilliseconds)
        #expect(third.id != second.id)
        let other = try sessions.session(
            caseID: caseID, epochPublicKey: epochB.publicKey, now: t0 + SenderSessions.lifetimeMilliseconds)
        #expect(other.id != third.id)
        #expect(other.epochKeyID == epochB.keyID)
        #expect(sessions.count == 2)
        sessions.endAll()
        #expect(sessions.count == 0)
        let after = try sessions.session(
            caseID: caseID, epochPublicKey: epochB.publicKey, now: t0 + SenderSessions.lifetimeMilliseconds)
        #expect(after.id != other.id)

        // In the vault: the shutdown call ends them, and the next message starts another session.
        let f = try await Fixture.make()
        defer { f.remove() }
        let m1 = try await f.vault.ingest(f.text("one"), relay: f.relay, requestID: "1")
        let m2 = try await f.vault.ingest(f.text("two"), relay: f.relay, requestID: "2")
        f.vault.endSenderSessions()
        let m3 = try await f.vault.ingest(f.text("three"), relay: f.relay, requestID: "3")
        let rows = try await Self.rows(f, m1.caseID)
        #expect(rows.map(\.id) == [m1.messageID, m2.messageID, m3.messageID])
        #expect(rows[0].session == rows[1].session)
        #expect(rows[2].session != rows[1].session)
        #expect(try await Self.read(f, m1.caseID, as: "cou1").map(\.text) == ["one", "two", "three"])
    }
}
