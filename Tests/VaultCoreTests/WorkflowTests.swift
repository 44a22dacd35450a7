import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct WorkflowTests {
    /// Whether `user`'s real unlocked keys open the message `messageID` (either envelope version), bypassing every
    /// policy check.
    static func opens(_ f: Fixture, _ messageID: ID, as user: UnlockedUser) async throws -> Bool {
        let vault = f.vault
        return try await vault.database.read { db in
            let row = try #require(
                try Row.fetchOne(db, sql: "SELECT * FROM messages WHERE id = ?", arguments: [Data(messageID.bytes)]))
            let m = try StoredMessage(row: row)
            let c = try #require(try vault.findCase(db, id: ID(bytes: Array(row["case_id"] as Data))!))
            let desk = try vault.desk(db, id: c.deskID)
            guard let epoch = try? vault.openEpoch(db, keyID: m.epochKeyID, case: c, desk: desk, as: user) else {
                return false
            }
            let envelope = m.envelope(caseID: c.id)
            guard let sessionID = m.sessionID else { return (try? envelope.open(with: epoch)) != nil }
            // Version 2: the session opened with the epoch key, from its stored public key.
            let stored = try #require(try SenderSessions.find(db, id: sessionID))
            guard
                let session = try? SenderSessionKey.open(
                    id: sessionID, caseID: c.id.bytes, epoch: epoch, sessionPublicKey: stored.publicKey)
            else { return false }
            return (try? envelope.open(in: session)) != nil
        }
    }

    @Test("handover: later messages do not open with the previous assignee's key; the new one reads the whole case")
    func handover() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let first = try await f.vault.ingest(f.text("one"), relay: f.relay, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: first.caseID, to: "cou1", as: cou1, requestID: "r")
        let second = try await f.vault.ingest(f.text("two"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.assign(caseID: first.caseID, to: "cou4", as: sup, requestID: "r")
        let third = try await f.vault.ingest(f.text("three"), relay: f.relay, requestID: "r")
        let freshCou1 = try await f.unlock("cou1")  // no cached keys
        #expect(try await !Self.opens(f, third.messageID, as: freshCou1))
        #expect(try await !Self.opens(f, second.messageID, as: freshCou1))  // the history left with the case
        let cou4 = try await f.unlock("cou4")
        let page = try await f.vault.transcript(caseID: first.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        #expect(page.map(\.text) == ["one", "two", "three"])
    }

    @Test("an admin decrypts nothing: no wrap, no desk key, and cannot be made a member")
    func adminCannotRead() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("secret"), relay: f.relay, requestID: "r")
        let adm = try await f.unlock("adm")
        #expect(try await !Self.opens(f, r.messageID, as: adm))
        await #expect(throws: VaultError.self) {
            try await f.vault.invite(desk: "ijime", username: "adm", caller: .cli())
        }
        let vault = f.vault
        let holdsDeskKey: Bool = try await vault.database.read { db in
            let desk = try #require(try vault.desk(db, name: "ijime"))
            return (try? vault.openDeskKey(db, desk: desk, kind: .deskQueue, as: adm)) != nil
        }
        #expect(!holdsDeskKey)
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: adm, requestID: "r")
        }
    }

    @Test("removal rotates the desk: the removed counselor opens nothing new; history stays readable to the others")
    func removal() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let before = try await f.vault.ingest(f.text("before removal"), relay: f.relay, requestID: "r")
        try await f.vault.removeMember(desk: "ijime", username: "cou4", caller: .cli())
        let after = try await f.vault.ingest(f.text("after removal"), relay: f.relay, requestID: "r")
        let newCase = try await f.vault.ingest(f.text("new case", user: "Unewperson"), relay: f.relay, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        #expect(try await !Self.opens(f, after.messageID, as: cou4))
        #expect(try await !Self.opens(f, newCase.messageID, as: cou4))
        #expect(try await !Self.opens(f, before.messageID, as: cou4))  // its wraps went at once
        let cou1 = try await f.unlock("cou1")  // unlock re-seals the old desk keys under the new ones
        let page = try await f.vault.transcript(caseID: before.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        #expect(page.map(\.text) == ["before removal", "after removal"])
        let again = try await f.unlock("cou1")
        let page2 = try await f.vault.transcript(
            caseID: before.caseID, afterSeq: 0, limit: 10, as: again, requestID: "r")
        #expect(page2.count == 2)
        let actions = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000).map(\.action)
        }
        #expect(actions.contains("member.remove"))
        #expect(actions.contains("key.rotate"))
    }

    @Test("disabling the last supervisor never leaves a key without a wrap: the recovery key still opens it")
    func lastSupervisor() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await f.vault.ingest(f.text("x"), relay: f.relay, requestID: "r")
        let token = try await f.vault.unlock(
            username: "sup", passphrase: f.passphrases["sup"]!, address: "a", requestID: "r")
        try await f.vault.disableUser(username: "sup", caller: .cli())
        #expect(f.vault.sessions.authenticate(token.token) == nil)
        let vault = f.vault
        let recovery = f.recovery
        let (orphans, recoveryOpens) = try await vault.database.read { db in
            let desk = try #require(try vault.desk(db, name: "ijime"))
            let orphans = try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM desk_keys k WHERE NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = k.key_id))
                    + (SELECT count(*) FROM case_epochs e WHERE NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = e.key_id))
                    """)
            var opens = 0
            for (label, keyID) in [
                (LabelledWrap.Label.deskQueue, desk.queueKeyID), (.deskOversight, desk.oversightKeyID),
            ] {
                let sealed = try #require(
                    try Data.fetchOne(
                        db, sql: "SELECT sealed FROM key_wraps WHERE key_id = ? AND recipient_key_id = ?",
                        arguments: [Data(keyID), Data(recovery.keyID)]))
                if (try? LabelledWrap.openBoxKey(
                    Array(sealed), with: recovery, label: label, scope: desk.id.bytes, keyID: keyID))
                    != nil
                {
                    opens += 1
                }
            }
            return (orphans, opens)
        }
        #expect(orphans == 0)
        #expect(recoveryOpens == 2)
        #expect(try await f.vault.desksWithoutUnlockedSupervisor().contains("ijime"))
    }

    @Test("an approved access request opens the case until it expires; then wraps go and a new epoch starts")
    func accessRequestExpiry() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("assigned to cou1"), relay: f.relay, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: r.caseID, to: "cou1", as: cou1, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        }
        let request = try await f.vault.requestAccess(
            r.caseID, reason: "cou1 is off sick; caller is waiting", as: cou4, requestID: "r")
        let sup = try await f.unlock("sup")
        let pending = try await f.vault.listAccessRequests(desk: "ijime", as: sup)
        #expect(pending.first?.reason == "cou1 is off sick; caller is waiting")
        try await f.vault.decideAccessRequest(request, approve: true, as: sup, auditRequestID: "r")
        let page = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        #expect(page.first?.text == "assigned to cou1")
        clock.advance(seconds: 3601)
        #expect(try await f.vault.expireGrants() == 1)
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        }
        let later = try await f.vault.ingest(f.text("later"), relay: f.relay, requestID: "r")
        let freshCou4 = try await f.unlock("cou4")
        #expect(try await !Self.opens(f, later.messageID, as: freshCou4))
        #expect(try await !Self.opens(f, r.messageID, as: freshCou4))
        // The reason is sealed: its text is nowhere in the database files.
        for (_, data) in try f.allBytes() { #expect(data.range(of: Data("off sick".utf8)) == nil) }
        let actions = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000).map(\.action)
        }
        for a in ["access.request", "access.approve", "access.expire", "case.assign", "transcript.read"] {
            #expect(actions.contains(a), "missing \(a)")
        }
    }

    @Test("break-glass: a supervisor reads an unassigned case only with a recorded reason, until expiry")
    func breakGlass() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("queue case"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: sup, requestID: "r")
        }
        let sup2 = try await f.unlock("sup2")
        await #expect(throws: VaultError.self) {
            try await f.vault.breakGlass(r.caseID, reason: "other desk", as: sup2, requestID: "r")
        }
        _ = try await f.vault.breakGlass(
            r.caseID, reason: "imminent risk, counselor unreachable", as: sup, requestID: "bg")
        let page = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: sup, requestID: "r")
        #expect(page.first?.text == "queue case")
        let entry = try await f.vault.database.read { db in
            try AuditLog.entries(in: db, limit: 10_000).first {
                $0.action == "breakglass.start" && $0.outcome == .allowed
            }
        }
        #expect(entry?.reasonSealed?.isEmpty == false)
        let anchored = try await f.vault.database.read { db in
            try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_notes")
        }
        #expect(anchored == entry?.seq)  // the break-glass is anchored by a checkpoint at once
        clock.advance(seconds: 3601)
        try await f.vault.expireGrants()
        let freshSup = try await f.unlock("sup")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: freshSup, requestID: "r")
        }
    }

    @Test("notes, risk, hold, close and release: recorded, visible in order, history follows the case to the queue")
    func caseActions() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: r.caseID, to: "cou1", as: cou1, requestID: "r")
        _ = try await f.vault.addNote(r.caseID, text: "risk assessed: medium", as: cou1, requestID: "r")
        try await f.vault.updateCase(r.caseID, CaseUpdate(risk: "imminent", hold: true), as: cou1, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        await #expect(throws: VaultError.self) {
            try await f.vault.updateCase(r.caseID, CaseUpdate(risk: "low"), as: cou4, requestID: "r")
        }
        await #expect(throws: VaultError.self) {
            try await f.vault.updateCase(r.caseID, CaseUpdate(risk: "extreme"), as: cou1, requestID: "r")
        }
        let flagged = try await f.vault.listCases(CaseQuery(), as: cou1)
        #expect(flagged.first?.flags.contains("risk_imminent") == true)
        try await f.vault.release(r.caseID, as: cou1, requestID: "r")
        let page = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        #expect(page.map(\.text) == ["hello", "risk assessed: medium"])
        #expect(page.map(\.direction) == ["inbound", "note"])
        #expect(page.last?.author == "cou1")
        try await f.vault.updateCase(
            r.caseID, CaseUpdate(status: "closed"), as: try await f.unlock("sup"), requestID: "r")
        let reopened = try await f.vault.ingest(f.text("back again"), relay: f.relay, requestID: "r")
        #expect(reopened.caseID == r.caseID)
        // Reopened, the case is found again as the user's one open case (findRoutedCase's index-only path).
        let next = try await f.vault.ingest(f.text("and again"), relay: f.relay, requestID: "r")
        #expect(next.caseID == r.caseID)
        let open = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM cases WHERE status = 'open'")
        }
        #expect(open == 1)
        let actions = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000).map(\.action)
        }
        for a in ["note.write", "case.update", "case.release"] { #expect(actions.contains(a), "missing \(a)") }
    }

    @Test("passphrase change re-wraps the keys: the old passphrase stops working, the new one unlocks")
    func passphraseChange() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let cou1 = try await f.unlock("cou1")
        await #expect(throws: VaultError.self) {
            try await f.vault.changePassphrase(cou1, current: "not mine", new: "a new passphrase", requestID: "r")
        }
        try await f.vault.changePassphrase(
            cou1, current: f.passphrases["cou1"]!, new: "a new passphrase 新しい", requestID: "r")
        await #expect(throws: VaultError.self) {
            try await f.vault.unlockForCLI(username: "cou1", passphrase: f.passphrases["cou1"]!)
        }
        let again = try await f.vault.unlockForCLI(username: "cou1", passphrase: "a new passphrase 新しい")
        #expect(again.username == "cou1")
    }

    @Test("the queue flags a new inbound message on a case whose assignee has no live session")
    func assigneeOfflineFlag() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("first"), relay: f.relay, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: r.caseID, to: "cou1", as: cou1, requestID: "r")
        _ = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        let sup = try await f.unlock("sup")
        #expect(try await f.vault.listCases(CaseQuery(), as: sup).first?.flags == [])
        _ = try await f.vault.ingest(f.text("are you there?"), relay: f.relay, requestID: "r")
        #expect(try await f.vault.listCases(CaseQuery(), as: sup).first?.flags == ["assignee_offline"])
        var flaggedOnly = CaseQuery()
        flaggedOnly.flagged = true
        #expect(try await f.vault.listCases(flaggedOnly, as: sup).count == 1)
        _ = try await f.vault.unlock(username: "cou1", passphrase: f.passphrases["cou1"]!, address: "a", requestID: "r")
        #expect(try await f.vault.listCases(CaseQuery(), as: sup).first?.flags == [])
    }
}
