import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct RotationTests {
    @Test("signing key rotation: history keeps verifying under the old key, new signatures use the new one")
    func signingKey() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let before = try await f.vault.ingest(f.text("before"), relay: f.relay, requestID: "r")
        let oldKey = f.vault.keys.signing.publicKey
        let line = try await f.vault.rotateSigningKey(caller: .cli())
        let reopened = try Vault.open(at: f.directory)
        #expect(reopened.keys.signing.publicKey != oldKey)
        #expect(reopened.keys.previousSigningKeys == [oldKey])
        #expect(reopened.keys.verifierKey == line)
        // Old attestations, manifests and epochs still verify: unlock, read, ingest into the old case.
        let cou1 = try await reopened.unlockForCLI(username: "cou1", passphrase: f.passphrases["cou1"]!)
        let relay = try #require(try await reopened.authenticateRelay(f.relayToken))
        let after = try await reopened.ingest(f.text("after"), relay: relay, requestID: "r")
        #expect(after.caseID == before.caseID)
        let page = try await reopened.transcript(
            caseID: before.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        #expect(page.map(\.text) == ["before", "after"])
        // A new case's epoch is signed by the new key only.
        let fresh = try await reopened.ingest(f.text("new case", user: "Ufresh"), relay: relay, requestID: "r")
        let signature = try await reopened.database.read { db in
            Array(
                try #require(
                    try Data.fetchOne(
                        db, sql: "SELECT signature FROM case_epochs WHERE case_id = ?",
                        arguments: [Data(fresh.caseID.bytes)])))
        }
        let pk = try await reopened.database.read { db in
            Array(
                try #require(
                    try Data.fetchOne(
                        db, sql: "SELECT public_key FROM case_epochs WHERE case_id = ?",
                        arguments: [Data(fresh.caseID.bytes)])))
        }
        let message = EpochKey.signedMessage(
            deskID: try await deskID(reopened), caseID: fresh.caseID, epoch: 0, publicKey: pk)
        #expect(
            SigningKeyPair.verify(signature: signature, message: message, publicKey: reopened.keys.signing.publicKey))
        #expect(!SigningKeyPair.verify(signature: signature, message: message, publicKey: oldKey))
        // The log verifies with both keys; one checkpoint carries both signatures.
        let summary = try await reopened.verifyAuditLog()
        #expect(summary.keys.count == 2)
    }

    func deskID(_ vault: Vault) async throws -> ID {
        try await vault.database.read { db in try #require(try vault.desk(db, name: "ijime")).id }
    }

    @Test("relay token rotation without downtime: both work until the old one is revoked")
    func relayToken() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let new = try await f.vault.issueRelayToken(name: "relay2", desks: ["ijime"], caller: .cli())
        #expect(try await f.vault.authenticateRelay(f.relayToken) != nil)
        #expect(try await f.vault.authenticateRelay(new) != nil)
        try await f.vault.revokeRelayToken(name: "relay1", caller: .cli())
        #expect(try await f.vault.authenticateRelay(f.relayToken) == nil)
        #expect(try await f.vault.authenticateRelay(new) != nil)
        await #expect(throws: VaultError.self) {
            try await f.vault.issueRelayToken(name: "relay1", desks: ["ijime"], caller: .cli())  // names never reused
        }
        let actions = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000).map(\.action)
        }
        #expect(actions.contains("token.revoke"))
    }

    @Test("Argon2id parameters are raised at the next unlock")
    func kdfUpgrade() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        // Pretend cou1 enrolled under weaker parameters than the vault now asks for.
        let weak = KDFParameters(opsLimit: 1, memLimit: 8192 * 8)
        let cou1 = try await f.unlock("cou1")
        let salt = SecureRandom.bytes(16)
        let kek = try PasswordKDF.deriveKey(passphrase: f.passphrases["cou1"]!, salt: salt, parameters: weak)
        let wrapped = try Vault.wrapUserKeys(userID: cou1.id, box: cou1.box, signing: cou1.signing, kek: kek)
        try await f.vault.database.transaction { db in
            try db.execute(
                sql:
                    "UPDATE users SET wrapped_keys = ?, kdf_salt = ?, kdf_ops = ?, kdf_mem = ? WHERE username = 'cou1'",
                arguments: [Data(wrapped), Data(salt), 1, 8192 * 8])
        }
        _ = try await f.vault.unlock(username: "cou1", passphrase: f.passphrases["cou1"]!, address: "a", requestID: "r")
        let mem = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT kdf_mem FROM users WHERE username = 'cou1'")
        }
        #expect(mem == KDFParameters.profile(.test).memLimit)
        let again = try await f.vault.unlockForCLI(username: "cou1", passphrase: f.passphrases["cou1"]!)
        #expect(again.username == "cou1")
    }
}

@Suite struct PseudonymRotationTests {
    @Test("pseudonym rotation: both keys route until rehash; a supervisor rehashes; finish removes the old key")
    func pseudonym() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let a = try await f.vault.ingest(f.text("one", user: "Uaaa"), relay: f.relay, requestID: "r")
        let b = try await f.vault.ingest(f.text("two", user: "Ubbb"), relay: f.relay, requestID: "r")
        let oldRouting = try await f.vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT routing_id FROM cases WHERE id = ?", arguments: [Data(a.caseID.bytes)])
        }
        try await f.vault.rotatePseudonymKey(caller: .cli())
        let v = try Vault.open(at: f.directory)
        #expect(v.keys.previousPseudonym != nil)
        await #expect(throws: VaultError.self) { try await v.rotatePseudonymKey(caller: .cli()) }
        // The old key still routes; writing moves the case to the new key.
        let relay = try #require(try await v.authenticateRelay(f.relayToken))
        let again = try await v.ingest(f.text("three", user: "Uaaa"), relay: relay, requestID: "r")
        #expect(again.caseID == a.caseID)
        let newRouting = try await v.database.read { db in
            try Data.fetchOne(db, sql: "SELECT routing_id FROM cases WHERE id = ?", arguments: [Data(a.caseID.bytes)])
        }
        #expect(newRouting != oldRouting)
        // Case b is still under the old key: finishing is refused until ijime is rehashed.
        await #expect(throws: VaultError.self) { try await v.finishPseudonymRotation(caller: .cli()) }
        let cou1 = try await v.unlockForCLI(username: "cou1", passphrase: f.passphrases["cou1"]!)
        await #expect(throws: VaultError.self) { try await v.rehashDesk(name: "ijime", as: cou1, requestID: "r") }
        let sup = try await v.unlockForCLI(username: "sup", passphrase: f.passphrases["sup"]!)
        #expect(try await v.rehashDesk(name: "ijime", as: sup, requestID: "r") == 1)
        try await v.finishPseudonymRotation(caller: .cli())
        let done = try Vault.open(at: f.directory)
        #expect(done.keys.previousPseudonym == nil)
        let relay2 = try #require(try await done.authenticateRelay(f.relayToken))
        let later = try await done.ingest(f.text("four", user: "Ubbb"), relay: relay2, requestID: "r")
        #expect(later.caseID == b.caseID)
    }
}
