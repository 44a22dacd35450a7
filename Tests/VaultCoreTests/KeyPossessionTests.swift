import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct KeyPossessionTests {
    @Test("a counselor of the desk reads a queue message; text is identical (Japanese, emoji, 64 KiB)")
    func roundTrip() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let text = "死にたいと思うことがあります 😢🙏 " + String(repeating: "あ", count: 64 * 1024 / 3)
        let r = try await f.vault.ingest(f.text(text), relay: f.relay, requestID: "r1")
        let cou1 = try await f.unlock("cou1")
        let page = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 100, as: cou1, requestID: "r2")
        #expect(page.count == 1)
        #expect(page.first?.text == text)
        #expect(page.first?.author == "channel")
    }

    @Test("without a wrap there is no decryption, even with the policy check bypassed")
    func noWrapNoKey() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("secret"), relay: f.relay, requestID: "r1")
        let cou2 = try await f.unlock("cou2")  // member of gyakutai only
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou2, requestID: "r2")
        }
        // Bypass policy: call the key path directly with cou2's real keys.
        let vault = f.vault
        let opened: Bool = try await vault.database.read { db in
            let c = try #require(try vault.findCase(db, id: r.caseID))
            let desk = try vault.desk(db, id: c.deskID)
            let epoch = try vault.epochKey(db, case: c, epoch: 0)
            return (try? vault.openEpoch(db, keyID: epoch.keyID, case: c, desk: desk, as: cou2)) != nil
        }
        #expect(!opened)
        // The invited-but-unconfirmed cou3 holds no desk key either.
        let cou3 = try await f.unlock("cou3")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou3, requestID: "r3")
        }
        let cou3Opens: Bool = try await vault.database.read { db in
            let c = try #require(try vault.findCase(db, id: r.caseID))
            let desk = try vault.desk(db, id: c.deskID)
            let epoch = try vault.epochKey(db, case: c, epoch: 0)
            return (try? vault.openEpoch(db, keyID: epoch.keyID, case: c, desk: desk, as: cou3)) != nil
        }
        #expect(!cou3Opens)
    }

    @Test("after assignment a later message does not open with the desk queue key alone")
    func assignmentLocksOutQueue() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let first = try await f.vault.ingest(f.text("before"), relay: f.relay, requestID: "r1")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: first.caseID, to: "cou1", as: cou1, requestID: "r2")
        let later = try await f.vault.ingest(f.text("after assignment"), relay: f.relay, requestID: "r3")
        #expect(later.caseID == first.caseID)
        // The queue key, opened by cou4 (another counselor of the desk), opens neither message now.
        let cou4 = try await f.unlock("cou4")
        let vault = f.vault
        let results: [Bool] = try await vault.database.read { db in
            let c = try #require(try vault.findCase(db, id: first.caseID))
            let desk = try vault.desk(db, id: c.deskID)
            let queue = try vault.openDeskKey(db, desk: desk, kind: .deskQueue, as: cou4)
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM messages WHERE case_id = ? ORDER BY seq", arguments: [Data(c.id.bytes)])
            return try rows.map { row in
                let m = try StoredMessage(row: row)
                let wraps = try Row.fetchAll(
                    db, sql: "SELECT sealed FROM key_wraps WHERE key_id = ? AND recipient_key_id = ?",
                    arguments: [Data(m.epochKeyID), Data(queue.keyID)])
                return wraps.contains { w in
                    (try? LabelledWrap.openBoxKey(
                        Array(w["sealed"] as Data), with: queue, label: .caseEpoch, scope: c.id.bytes,
                        keyID: m.epochKeyID)) != nil
                }
            }
        }
        #expect(results == [false, false])
        // cou1 (assignee) reads both; cou4 is refused by policy too.
        let page = try await f.vault.transcript(caseID: first.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r4")
        #expect(page.map(\.text) == ["before", "after assignment"])
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: first.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r5")
        }
        // Every epoch still has a wrap (oversight), so the desk is never locked out.
        let orphans = try await vault.database.read { db in
            try Int.fetchOne(
                db,
                sql:
                    "SELECT count(*) FROM case_epochs e WHERE NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = e.key_id)"
            )
        }
        #expect(orphans == 0)
    }

    @Test("a swapped user public key in the database is refused rather than sealed to")
    func swappedUserKeyRefused() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.invite(desk: "ijime", username: "sup2", caller: .cli())
        let attacker = try BoxKeyPair.generate()
        try await f.vault.database.transaction { db in
            try db.execute(
                sql: "UPDATE users SET box_public = ? WHERE username = 'sup2'", arguments: [Data(attacker.publicKey)])
        }
        let sup = try await f.unlock("sup")
        let fingerprint = UserKeys.fingerprint(
            boxPublic: attacker.publicKey,
            signPublic: try await f.vault.database.read { db in
                Array(try #require(try Data.fetchOne(db, sql: "SELECT sign_public FROM users WHERE username = 'sup2'")))
            })
        await #expect(throws: VaultError.self) {
            try await f.vault.confirm(
                desk: "ijime", username: "sup2", fingerprint: fingerprint, supervisor: sup, requestID: "x")
        }
        let wrapsToAttacker = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM key_wraps WHERE recipient_key_id = ?", arguments: [Data(attacker.keyID)])
        }
        #expect(wrapsToAttacker == 0)
    }

    @Test("a swapped epoch or desk key is refused: nothing is sealed to a key the vault did not sign")
    func swappedEpochAndDeskKeysRefused() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("one"), relay: f.relay, requestID: "r1")
        let attacker = try BoxKeyPair.generate()
        try await f.vault.database.transaction { db in
            try db.execute(
                sql: "UPDATE case_epochs SET public_key = ?, key_id = key_id WHERE case_id = ?",
                arguments: [Data(attacker.publicKey), Data(r.caseID.bytes)])
        }
        await #expect(throws: VaultError.self) {
            try await f.vault.ingest(f.text("two"), relay: f.relay, requestID: "r2")
        }
        // A desk manifest rewritten with another queue key no longer verifies.
        try await f.vault.database.transaction { db in
            let row = try #require(
                try Row.fetchOne(db, sql: "SELECT * FROM desk_manifests ORDER BY created_at LIMIT 1"))
            var m = try DeskManifest(body: Array(row["body"] as Data))
            m.queuePublic = attacker.publicKey
            // An attacker writing the database drops the append-only trigger first.
            try db.execute(sql: "DROP TRIGGER desk_manifests_append_only_update")
            try db.execute(
                sql: "UPDATE desk_manifests SET body = ? WHERE desk_id = ? AND version = ?",
                arguments: [Data(m.body), row["desk_id"] as Data, row["version"] as Int64])
        }
        await #expect(throws: VaultError.self) {
            try await f.vault.ingest(f.text("three", user: "Uanother"), relay: f.relay, requestID: "r3")
        }
    }

    @Test("the database holds no enrollment code or passphrase; admins hold no wrap")
    func adminSeesNoSecrets() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let bytes = try f.allBytes()
        for (_, data) in bytes {
            for code in f.codes.values {
                #expect(data.range(of: Data(code.utf8)) == nil)
                #expect(data.range(of: Data(code.replacingOccurrences(of: "-", with: "").utf8)) == nil)
            }
            for p in f.passphrases.values { #expect(data.range(of: Data(p.utf8)) == nil) }
        }
        let adminKeys = try await f.vault.userKeys(username: "adm")
        let adminWraps = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM key_wraps WHERE recipient_key_id = ?",
                arguments: [Data(adminKeys.boxKeyID)])
        }
        #expect(adminWraps == 0)
        // An admin cannot invite themselves onto a desk.
        await #expect(throws: VaultError.self) {
            try await f.vault.invite(desk: "ijime", username: "adm", caller: .cli())
        }
    }

    @Test("a wrong fingerprint seals nothing and is recorded as denied")
    func fingerprintMismatch() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let sup = try await f.unlock("sup")
        let before = try await f.vault.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM key_wraps")
        }
        await #expect(throws: VaultError.self) {
            try await f.vault.confirm(
                desk: "ijime", username: "cou3", fingerprint: f.fingerprints["cou2"]!, supervisor: sup, requestID: "x")
        }
        let after = try await f.vault.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM key_wraps")
        }
        #expect(before == after)
        let last = try await f.vault.database.read { db in try AuditLog.entries(in: db, after: 0, limit: 10_000).last }
        #expect(last?.action == "member.confirm")
        #expect(last?.outcome == .denied)
    }

    @Test("an enrollment code is single use and expires after 72 hours")
    func enrollmentCodes() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        await #expect(throws: VaultError.self) {
            try await f.vault.enroll(
                username: "cou1", code: f.codes["cou1"]!, passphrase: "another passphrase", requestID: "x")
        }
        let (code, _) = try await f.vault.addUser(username: "late", role: .counselor, caller: .cli())
        clock.advance(seconds: 72 * 3600 + 1)
        await #expect(throws: VaultError.self) {
            try await f.vault.enroll(username: "late", code: code, passphrase: "a long passphrase", requestID: "x")
        }
    }

    @Test("writes and reads are recorded with the envelope hash; the chain verifies")
    func recorded() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "req-w")
        let cou1 = try await f.unlock("cou1")
        _ = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "req-r")
        let cou2 = try await f.unlock("cou2")
        _ = try? await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou2, requestID: "req-d")
        let (entries, broken, hash) = try await f.vault.database.read { db in
            (
                try AuditLog.entries(in: db, after: 0, limit: 10_000), try AuditLog.firstBrokenSeq(in: db),
                try Data.fetchOne(
                    db, sql: "SELECT envelope_hash FROM messages WHERE id = ?", arguments: [Data(r.messageID.bytes)])
            )
        }
        #expect(broken == nil)
        let write = try #require(entries.first { $0.requestID == "req-w" })
        #expect(write.action == "relay.write")
        #expect(write.actor == "relay1")
        #expect(write.envelopeHash == hash.map { Array($0) })
        let read = try #require(entries.first { $0.requestID == "req-r" })
        #expect(read.action == "transcript.read" && read.outcome == .allowed && read.actor == "cou1")
        let denied = try #require(entries.first { $0.requestID == "req-d" })
        #expect(denied.outcome == .denied && denied.actor == "cou2")
    }

    @Test("sessions end at idle expiry, absolute expiry and logout")
    func sessionExpiry() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let g1 = try await f.vault.unlock(
            username: "cou1", passphrase: f.passphrases["cou1"]!, address: "a", requestID: "1")
        #expect(f.vault.sessions.authenticate(g1.token) != nil)
        clock.advance(seconds: 15 * 60 + 1)
        #expect(f.vault.sessions.authenticate(g1.token) == nil)
        let g2 = try await f.vault.unlock(
            username: "cou1", passphrase: f.passphrases["cou1"]!, address: "a", requestID: "2")
        for _ in 0..<40 {
            clock.advance(seconds: 14 * 60)
            _ = f.vault.sessions.authenticate(g2.token)
        }
        #expect(f.vault.sessions.authenticate(g2.token) == nil)  // 9h20m > 8h lifetime
        let g3 = try await f.vault.unlock(
            username: "cou1", passphrase: f.passphrases["cou1"]!, address: "a", requestID: "3")
        f.vault.sessions.end(g3.token)
        #expect(f.vault.sessions.authenticate(g3.token) == nil)
    }

    @Test("failed unlocks are throttled per user and address, then answered 429 before any hashing")
    func throttle() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        var codes: [VaultError.Code] = []
        for i in 0..<7 {
            do {
                _ = try await f.vault.unlock(
                    username: "cou1", passphrase: "wrong \(i)", address: "10.0.0.1", requestID: "t")
            } catch let e as VaultError {
                codes.append(e.code)
            }
        }
        #expect(codes.prefix(5).allSatisfy { $0 == .unauthenticated })
        #expect(codes.last == .rateLimited)
        // Even the right passphrase waits while throttled from that address; after the delay it works.
        await #expect(throws: VaultError.self) {
            try await f.vault.unlock(
                username: "cou1", passphrase: f.passphrases["cou1"]!, address: "10.0.0.1", requestID: "t")
        }
        clock.advance(seconds: 3600)
        let ok = try await f.vault.unlock(
            username: "cou1", passphrase: f.passphrases["cou1"]!, address: "10.0.0.1", requestID: "t")
        #expect(ok.role == .counselor)
        // Unknown and known users fail alike.
        await #expect(throws: VaultError(.unauthenticated, "wrong username or passphrase")) {
            try await f.vault.unlock(username: "nobody", passphrase: "whatever", address: "y", requestID: "t")
        }
    }
}
