import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// The red-team findings about entitlement state (issue 14): each test writes the database as an attacker with
/// write access to vault.sqlite would, then shows the vault refuses to act on it; the legitimate path beside it.
@Suite struct AuthenticatedStateTests {
    /// The key ids of every wrap sealed to `username`'s box key.
    func wrapsTo(_ f: Fixture, _ username: String) async throws -> Set<[UInt8]> {
        let keys = try await f.vault.userKeys(username: username)
        return try await f.vault.database.read { db in
            Set(
                try Data.fetchAll(
                    db, sql: "SELECT key_id FROM key_wraps WHERE recipient_key_id = ?",
                    arguments: [Data(Hashing.keyID(keys.boxPublic))]
                ).map { Array($0) })
        }
    }

    func write(_ f: Fixture, _ sql: String, _ arguments: StatementArguments = []) async throws {
        try await f.vault.database.writer.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    func id(_ f: Fixture, _ sql: String, _ arguments: StatementArguments = []) async throws -> Data {
        try await f.vault.database.read { db in try #require(try Data.fetchOne(db, sql: sql, arguments: arguments)) }
    }

    @Test("C1: a forged membership row and rotation job seal nothing to an outsider; the manifest never lists them")
    func forgedMembershipAndJob() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let desk = try await id(f, "SELECT id FROM desks WHERE name = 'ijime'")
        let sup2 = try await id(f, "SELECT id FROM users WHERE username = 'sup2'")
        try await write(
            f,
            "INSERT INTO desk_members (desk_id, user_id, state, invited_at, confirmed_at, confirmed_by) VALUES (?, ?, 'confirmed', 0, 0, 'sup')",
            [desk, sup2])
        try await write(f, "INSERT INTO rotation_jobs (desk_id, reason, created_at) VALUES (?, 'forged', 0)", [desk])
        let before = try await wrapsTo(f, "sup2")
        let version = try await f.vault.database.read { db in
            try #require(try f.vault.desk(db, name: "ijime")).manifest.version
        }
        _ = try await f.vault.runPendingRotations(caller: .cli())
        // The rotation ran (a harmless one), but sup2 got no wrap and is not in the signed manifest.
        #expect(try await wrapsTo(f, "sup2") == before)
        let manifest = try await f.vault.database.read { db in
            try #require(try f.vault.desk(db, name: "ijime")).manifest
        }
        #expect(manifest.version == version + 1)
        #expect(manifest.member("sup2") == nil)
        #expect(Set(manifest.members.map(\.username)) == ["sup", "cou1", "cou4"])
        // sup2 cannot break glass on ijime either: membership comes from the manifest.
        let message = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let sup2Session = try await f.unlock("sup2")
        await #expect(throws: VaultError.self) {
            try await f.vault.breakGlass(message.caseID, reason: "forged", as: sup2Session, requestID: "r")
        }
        // The legitimate path: a real removal still rotates cou4 out.
        try await f.vault.removeMember(desk: "ijime", username: "cou4", caller: .cli())
        _ = try await f.vault.runPendingRotations(caller: .cli())
        let after = try await f.vault.database.read { db in try #require(try f.vault.desk(db, name: "ijime")).manifest }
        #expect(Set(after.members.map(\.username)) == ["sup", "cou1"])
    }

    @Test(
        "C1 variant: an edited assignee and a forged grant are refused; no epoch is sealed to another desk's counselor")
    func forgedAssigneeAndGrant() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let message = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let caseID = Data(message.caseID.bytes)
        let cou2 = try await id(f, "SELECT id FROM users WHERE username = 'cou2'")
        let before = try await wrapsTo(f, "cou2")
        try await write(f, "UPDATE cases SET assignee_id = ? WHERE id = ?", [cou2, caseID])
        try await write(
            f,
            "INSERT INTO case_grants (id, case_id, user_id, kind, created_at, expires_at) VALUES (?, ?, ?, 'request', 0, 1)",
            [Data(ID.v4().bytes), caseID, cou2])
        // The janitor meets the forged grant and the edited case: it refuses, sealing nothing.
        await #expect(throws: VaultError.self) { try await f.vault.expireGrants() }
        let cou2Session = try await f.unlock("cou2")
        let error = await #expect(throws: VaultError.self) {
            try await f.vault.transcript(
                caseID: message.caseID, afterSeq: 0, limit: 10, as: cou2Session, requestID: "r")
        }
        #expect(error?.code == .integrity)
        #expect(try await wrapsTo(f, "cou2") == before)
        #expect(f.vault.integrityFailureCount > 0)
        // The failure is recorded in the access log (in its own transaction).
        var recorded = 0
        for _ in 0..<50 where recorded == 0 {
            recorded = try await f.vault.database.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM access_log WHERE action = 'integrity.failure'") ?? 0
            }
            if recorded == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(recorded > 0)
    }

    @Test("C1 variant, legitimate path: a real assignment and a real grant still work")
    func realAssignmentAndGrant() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let message = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.assign(caseID: message.caseID, to: "cou1", as: sup, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        let page = try await f.vault.transcript(
            caseID: message.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        #expect(page.map(\.text) == ["hello"])
        let cou4 = try await f.unlock("cou4")
        let request = try await f.vault.requestAccess(message.caseID, reason: "cover", as: cou4, requestID: "r")
        try await f.vault.decideAccessRequest(request, approve: true, as: sup, auditRequestID: "r")
        let read = try await f.vault.transcript(
            caseID: message.caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "r")
        #expect(read.map(\.text) == ["hello"])
    }

    @Test("H2: a rolled-back manifest pointer is refused; no post-rotation key is ever sealed to a pre-rotation key")
    func manifestRollback() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let desk = try await id(f, "SELECT id FROM desks WHERE name = 'ijime'")
        try await f.vault.removeMember(desk: "ijime", username: "cou4", caller: .cli())
        _ = try await f.vault.runPendingRotations(caller: .cli())
        let head = try await f.vault.database.read { db in
            try Int64.fetchOne(db, sql: "SELECT manifest_version FROM desks WHERE id = ?", arguments: [desk]) ?? 0
        }
        // The attacker rolls the pointer back to version 1 and restores it after a routine unlock.
        try await write(f, "UPDATE desks SET manifest_version = 1 WHERE id = ?", [desk])
        _ = try? await f.vault.unlock(username: "sup", passphrase: f.passphrases["sup"]!, address: "a", requestID: "r")
        try await write(f, "UPDATE desks SET manifest_version = ? WHERE id = ?", [head, desk])
        // Nothing of generation 2 is sealed to a generation-1 key.
        let chained = try await f.vault.database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM key_wraps w JOIN desk_keys k ON k.key_id = w.key_id
                    JOIN desk_keys r ON r.key_id = w.recipient_key_id
                    WHERE k.desk_id = ? AND k.generation = 2 AND r.generation = 1
                    """, arguments: [desk]) ?? -1
        }
        #expect(chained == 0)
        // The rolled-back state itself is refused with integrity_failure.
        try await write(f, "UPDATE desks SET manifest_version = 1 WHERE id = ?", [desk])
        let error = await #expect(throws: VaultError.self) {
            _ = try await f.vault.database.read { db in try f.vault.desk(db, name: "ijime") }
        }
        #expect(error?.code == .integrity)
        // Deleting the newest manifest version is refused by the database itself.
        await #expect(throws: (any Error).self) {
            try await write(f, "DELETE FROM desk_manifests WHERE desk_id = ? AND version = ?", [desk, head])
        }
        // Legitimate path: with the pointer right, a supervisor's unlock re-seals old keys forward only.
        try await write(f, "UPDATE desks SET manifest_version = ? WHERE id = ?", [head, desk])
        _ = try await f.vault.unlock(username: "sup", passphrase: f.passphrases["sup"]!, address: "a", requestID: "r")
        let forward = try await f.vault.database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM key_wraps w JOIN desk_keys k ON k.key_id = w.key_id
                    JOIN desk_keys r ON r.key_id = w.recipient_key_id
                    WHERE k.desk_id = ? AND k.generation = 1 AND r.generation = 2
                    """, arguments: [desk]) ?? -1
        }
        #expect(forward >= 1)
    }

    @Test("H2: a manifest version deleted while the vault is stopped (triggers put back) is refused after a restart")
    func manifestRollbackAcrossRestart() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.removeMember(desk: "ijime", username: "cou4", caller: .cli())
        _ = try await f.vault.runPendingRotations(caller: .cli())
        let desk = try await id(f, "SELECT id FROM desks WHERE name = 'ijime'")
        let head = try await f.vault.database.read { db in
            try Int64.fetchOne(db, sql: "SELECT manifest_version FROM desks WHERE id = ?", arguments: [desk]) ?? 0
        }
        let schema = try await f.vault.database.read { db in
            try String.fetchOne(
                db, sql: "SELECT sql FROM sqlite_master WHERE name = 'desk_manifests_append_only_delete'") ?? ""
        }
        try await f.vault.database.writer.write { db in
            try db.execute(sql: "DROP TRIGGER desk_manifests_append_only_delete")
            try db.execute(
                sql: "DELETE FROM desk_manifests WHERE desk_id = ? AND version = ?", arguments: [desk, head])
            try db.execute(sql: "UPDATE desks SET manifest_version = ? WHERE id = ?", arguments: [head - 1, desk])
            try db.execute(sql: schema)
        }
        let reopened = try Vault.open(at: f.directory)
        let error = await #expect(throws: VaultError.self) {
            _ = try await reopened.database.read { db in try reopened.desk(db, name: "ijime") }
        }
        #expect(error?.code == .integrity)
    }

    @Test("a relay token revoked or scoped outside the vault is refused; issue and revoke keep working")
    func relayTokenState() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let other = try await f.vault.issueRelayToken(name: "relay2", desks: ["ijime"], caller: .cli())
        #expect(try await f.vault.authenticateRelay(other) != nil)
        // Widening relay1's scope to gyakutai by one inserted row: refused at its next authentication.
        let gyakutai = try await id(f, "SELECT id FROM desks WHERE name = 'gyakutai'")
        try await write(
            f, "INSERT INTO relay_token_desks (token_id, desk_id) VALUES (?, ?)",
            [Data(f.relay.tokenID.bytes), gyakutai])
        let fresh = try Vault.open(at: f.directory)
        let widened = await #expect(throws: VaultError.self) { try await fresh.authenticateRelay(f.relayToken) }
        #expect(widened?.code == .integrity)
        // Un-revoking a revoked token: refused.
        try await f.vault.revokeRelayToken(name: "relay2", caller: .cli())
        #expect(try await fresh.authenticateRelay(other) == nil)
        try await write(f, "UPDATE relay_tokens SET revoked_at = NULL WHERE name = 'relay2'")
        let revived = await #expect(throws: VaultError.self) { try await fresh.authenticateRelay(other) }
        #expect(revived?.code == .integrity)
    }

    @Test("M4: swapped routing ids do not reroute a person's messages into another case")
    func swappedRouting() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let a = try await f.vault.ingest(f.text("from a", user: "Ua"), relay: f.relay, requestID: "r")
        let b = try await f.vault.ingest(f.text("from b", user: "Ub"), relay: f.relay, requestID: "r")
        let ra = try await id(f, "SELECT routing_id FROM cases WHERE id = ?", [Data(a.caseID.bytes)])
        let rb = try await id(f, "SELECT routing_id FROM cases WHERE id = ?", [Data(b.caseID.bytes)])
        try await write(f, "UPDATE cases SET routing_id = ? WHERE id = ?", [rb, Data(a.caseID.bytes)])
        try await write(f, "UPDATE cases SET routing_id = ? WHERE id = ?", [ra, Data(b.caseID.bytes)])
        let error = await #expect(throws: VaultError.self) {
            try await f.vault.ingest(f.text("a again", user: "Ua"), relay: f.relay, requestID: "r")
        }
        #expect(error?.code == .integrity)
        let inB = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(b.caseID.bytes)])
        }
        #expect(inB == 1)
    }

    @Test("M4: a re-sealed channel user is refused, so replies cannot be redirected to another LINE id")
    func resealedChannelUser() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let a = try await f.vault.ingest(f.text("from a", user: "Ua"), relay: f.relay, requestID: "r")
        let epoch = try await id(f, "SELECT public_key FROM case_epochs WHERE case_id = ?", [Data(a.caseID.bytes)])
        let desk = try await id(f, "SELECT id FROM desks WHERE name = 'ijime'")
        let forged = try SealedBox.seal(
            Canonical.encode([
                Array("consultvault/channel-user/v1".utf8), a.caseID.bytes, Array(desk), Array("Uattacker".utf8),
            ]), to: Array(epoch))
        try await write(f, "UPDATE cases SET channel_user_case = ? WHERE id = ?", [Data(forged), Data(a.caseID.bytes)])
        let sup = try await f.unlock("sup")
        let error = await #expect(throws: VaultError.self) {
            try await f.vault.assign(caseID: a.caseID, to: "cou1", as: sup, requestID: "r")
        }
        #expect(error?.code == .integrity)
    }

    @Test("M5: a held case whose hold, status or retention was edited is not shredded")
    func heldCaseSurvivesEdits() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("keep me"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.assign(caseID: m.caseID, to: "cou1", as: sup, requestID: "r")
        try await f.vault.updateCase(m.caseID, CaseUpdate(hold: true), as: sup, requestID: "r")
        try await write(
            f, "UPDATE cases SET hold = 0, status = 'closed', closed_at = 0 WHERE id = ?", [Data(m.caseID.bytes)])
        try await write(f, "UPDATE desks SET retention_days = 0 WHERE name = 'ijime'")
        clock.advance(seconds: 86_400)
        _ = try? await f.vault.purge(dryRun: false, caller: .cli())
        let present = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(m.caseID.bytes)])
        }
        #expect(present == 1)
    }

    @Test("M6: a grantee who is then assigned keeps the history when the grant expires")
    func grantThenAssignment() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("history"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.assign(caseID: m.caseID, to: "cou1", as: sup, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        let request = try await f.vault.requestAccess(m.caseID, reason: "handover", as: cou4, requestID: "r")
        try await f.vault.decideAccessRequest(request, approve: true, as: sup, auditRequestID: "r")
        try await f.vault.assign(caseID: m.caseID, to: "cou4", as: sup, requestID: "r")
        clock.advance(seconds: 2 * 3600)
        #expect(try await f.vault.expireGrants() == 1)
        let fresh = try await f.unlock("cou4")
        let page = try await f.vault.transcript(caseID: m.caseID, afterSeq: 0, limit: 10, as: fresh, requestID: "r")
        #expect(page.map(\.text) == ["history"])
    }

    @Test("H1: the admin's recovery key gets no desk secret until a supervisor vouches for it with the fingerprint")
    func deskAcceptance() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let adminsOwn = try BoxKeyPair.generate()
        let wrapsToAdminsKey = {
            try await f.vault.database.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM key_wraps WHERE recipient_key_id = ?",
                    arguments: [Data(Hashing.keyID(adminsOwn.publicKey))]) ?? -1
            }
        }
        try await f.vault.addDesk(
            name: "mine", supervisor: "sup", recoveryKey: adminsOwn.publicKey, retentionDays: nil, caller: .cli())
        // The desk works as API.md's first-vault sequence expects, but nothing is sealed to the admin's key.
        try await f.vault.invite(desk: "mine", username: "cou1", caller: .cli())
        let sup = try await f.unlock("sup")
        try await f.vault.confirm(
            desk: "mine", username: "cou1", fingerprint: f.fingerprints["cou1"]!, supervisor: sup, requestID: "r")
        #expect(try await wrapsToAdminsKey() == 0)
        // sup was given the municipality's fingerprint: acceptance is refused and seals nothing.
        let municipality = Vault.recoveryFingerprint(f.recovery.publicKey)
        let mismatch = await #expect(throws: VaultError.self) {
            try await f.vault.acceptDesk(name: "mine", recoveryFingerprint: municipality, as: sup, requestID: "r")
        }
        #expect(mismatch?.code == .conflict)
        // A rotation does not seal to the unvouched key either, and a supervisor of another desk cannot vouch.
        try await f.vault.removeMember(desk: "mine", username: "cou1", caller: .cli())
        _ = try await f.vault.runPendingRotations(caller: .cli())
        let sup2 = try await f.unlock("sup2")
        let other = await #expect(throws: VaultError.self) {
            try await f.vault.acceptDesk(
                name: "mine", recoveryFingerprint: Vault.recoveryFingerprint(adminsOwn.publicKey), as: sup2,
                requestID: "r")
        }
        #expect(other?.code == .forbidden)
        #expect(try await wrapsToAdminsKey() == 0)
        // A desk name with a trailing line terminator is refused (it would look like another desk).
        for bad in ["good\n", "good\u{2028}", "good\u{85}"] {
            let error = await #expect(throws: VaultError.self) {
                try await f.vault.addDesk(
                    name: bad, supervisor: "sup", recoveryKey: f.recovery.publicKey, retentionDays: nil, caller: .cli())
            }
            #expect(error?.code == .invalidRequest)
        }
        // Legitimate path: a desk created with the municipality's key, accepted with its fingerprint: every
        // generation of its secrets is sealed to the recovery key (the fixture's desks are accepted this way).
        try await f.vault.addDesk(
            name: "good", supervisor: "sup", recoveryKey: f.recovery.publicKey, retentionDays: nil, caller: .cli())
        try await f.vault.acceptDesk(name: "good", recoveryFingerprint: municipality, as: sup, requestID: "r")
        let good = try await f.vault.database.read { db in try #require(try f.vault.desk(db, name: "good")) }
        #expect(good.recoveryVouched)
        let recoveryWraps = try await f.vault.database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM key_wraps w JOIN desk_keys k ON k.key_id = w.key_id
                    WHERE k.desk_id = ? AND w.recipient_key_id = ?
                    """, arguments: [Data(good.id.bytes), Data(Hashing.keyID(f.recovery.publicKey))])
        }
        #expect(recoveryWraps == 2)
    }

    @Test("M2: a supervisor assigning a case to themselves must give a reason, and it waits for an auditor's review")
    func supervisorSelfAssignment() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        let error = await #expect(throws: VaultError.self) {
            try await f.vault.assign(caseID: m.caseID, to: "sup", as: sup, requestID: "r")
        }
        #expect(error?.code == .invalidRequest)
        try await f.vault.assign(caseID: m.caseID, to: "sup", reason: "night shift cover", as: sup, requestID: "r")
        let aud = try await f.unlock("aud")
        let queue = try await f.vault.breakGlassQueue(as: aud, requestID: "r")
        let item = try #require(queue.first { $0.event.entry.target == "case:\(m.caseID) self-assign" })
        #expect(item.event.reason == "night shift cover")
        #expect(item.reviewer == nil)
        // Assigning a counselor needs no reason and is no review item.
        let n = try await f.vault.ingest(f.text("other", user: "Uother"), relay: f.relay, requestID: "r")
        try await f.vault.assign(caseID: n.caseID, to: "cou1", as: sup, requestID: "r")
        #expect(try await f.vault.breakGlassQueue(as: aud, requestID: "r").count == 1)
    }

    @Test("L1: an inserted review row does not mark a break-glass reviewed; the real review still can")
    func forgedReview() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        _ = try await f.vault.breakGlass(m.caseID, reason: "check", as: sup, requestID: "r")
        let aud = try await f.unlock("aud")
        let seq = try #require(try await f.vault.breakGlassQueue(as: aud, requestID: "r").first?.event.entry.seq)
        // The attacker points a review row at some other entry (e.g. the last audit.read).
        let other = try await f.vault.database.read { db in
            try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log")
        }
        try await write(
            f, "INSERT INTO audit_reviews (breakglass_seq, review_seq, reviewer, reviewed_at) VALUES (?, ?, 'aud', 0)",
            [seq, other])
        let queue = try await f.vault.breakGlassQueue(as: aud, requestID: "r")
        #expect(queue.first { $0.event.entry.seq == seq }?.reviewer == nil)
        let reviewed = try await f.vault.reviewBreakGlass(seq: seq, comment: "fine", as: aud, requestID: "r")
        #expect(reviewed.reviewer == "aud")
        #expect(reviewed.comment == "fine")
    }
}
