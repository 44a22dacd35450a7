import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// M3: disabling an auditor rotates the auditors' key, so the ex-auditor's copy opens no later reason, while the
/// remaining auditors (and auditors confirmed later) read old and new reasons alike.
@Suite struct AuditorsKeyRotationTests {
    typealias S = AuditTestSupport

    static func enrollAuditor(_ f: Fixture, _ name: String) async throws -> String {
        let code = try await f.vault.addUser(username: name, role: .auditor, caller: .cli()).code
        return try await f.vault.enroll(
            username: name, code: code, passphrase: "passphrase of \(name) 秘密", requestID: "setup")
    }

    static func unlock(_ f: Fixture, _ name: String) async throws -> UnlockedUser {
        try await f.vault.unlockForCLI(username: name, passphrase: "passphrase of \(name) 秘密")
    }

    /// Every auditors' key the user's own wraps open, with raw primitives (what an ex-auditor can do offline).
    static func keysOpenedDirectly(_ f: Fixture, _ user: UnlockedUser) async throws -> [BoxKeyPair] {
        let scope = f.vault.keys.vaultID.bytes
        return try await f.vault.database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT w.key_id, w.sealed FROM key_wraps w JOIN auditor_keys k ON k.key_id = w.key_id
                    WHERE w.recipient_key_id = ?
                    """, arguments: [Data(user.box.keyID)]
            ).map { row in
                try LabelledWrap.openBoxKey(
                    Array(row["sealed"] as Data), with: user.box, label: .auditors, scope: scope,
                    keyID: Array(row["key_id"] as Data))
            }
        }
    }

    static func sealedReason(_ f: Fixture, seq: Int64) async throws -> [UInt8] {
        try await f.vault.database.read { db in
            Array(
                try #require(
                    try Data.fetchOne(db, sql: "SELECT reason_sealed FROM access_log WHERE seq = ?", arguments: [seq])))
        }
    }

    static func opens(_ sealed: [UInt8], with keys: [BoxKeyPair]) -> String? {
        guard let first = try? Canonical.decode(sealed).first else { return nil }
        for k in keys {
            if let plain = try? SealedBox.open(first, with: k) {
                return plain.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            }
        }
        return nil
    }

    static func reasons(_ f: Fixture, as user: UnlockedUser) async throws -> [Int64: String] {
        var q = AuditEventQuery()
        q.limit = 1000
        q.action = "breakglass.start"
        let events = try await f.vault.auditEvents(q, as: user, requestID: "r")
        return Dictionary(uniqueKeysWithValues: events.compactMap { e in e.reason.map { (e.entry.seq, $0) } })
    }

    @Test("after an auditor is disabled, a later reason does not open with their key; the remaining auditor reads both")
    func disableRotates() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let fp2 = try await Self.enrollAuditor(f, "aud2")
        let aud = try await f.unlock("aud")
        try await f.vault.confirmAuditor(username: "aud2", fingerprint: fp2, as: aud, requestID: "c")
        let aud2 = try await Self.unlock(f, "aud2")
        let old = try await Self.keysOpenedDirectly(f, aud2)
        #expect(old.count == 1)
        let before = try await S.breakGlass(f, reason: "before the departure")
        #expect(Self.opens(try await Self.sealedReason(f, seq: before), with: old) == "before the departure")

        try await f.vault.disableUser(username: "aud2", caller: .cli())
        let after = try await S.breakGlass(f, reason: "after the departure")
        // The ex-auditor's copy of the old key opens nothing recorded later, and no wrap is left for them.
        #expect(Self.opens(try await Self.sealedReason(f, seq: after), with: old) == nil)
        #expect(try await Self.keysOpenedDirectly(f, aud2).isEmpty)

        // The remaining auditor reads the old and the new reason (a fresh session, as after a restart).
        let audAgain = try await f.unlock("aud")
        let read = try await Self.reasons(f, as: audAgain)
        #expect(read[before] == "before the departure")
        #expect(read[after] == "after the departure")

        // An auditor confirmed after the rotation reads both too: the old key is chained to the new one.
        let fp3 = try await Self.enrollAuditor(f, "aud3")
        try await f.vault.confirmAuditor(username: "aud3", fingerprint: fp3, as: audAgain, requestID: "c3")
        let aud3 = try await Self.unlock(f, "aud3")
        let read3 = try await Self.reasons(f, as: aud3)
        #expect(read3[before] == "before the departure")
        #expect(read3[after] == "after the departure")
        _ = try await f.vault.verifyAuditLog()
    }

    @Test("disabling a counselor leaves the auditors' key alone")
    func counselorDisable() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let count = {
            try await f.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM auditor_keys") }
        }
        #expect(try await count() == 1)
        try await f.vault.disableUser(username: "cou2", caller: .cli())
        #expect(try await count() == 1)
    }

    @Test("when the last auditor leaves, the next auditor to enroll makes a key of their own and reads new reasons")
    func lastAuditorLeaves() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.disableUser(username: "aud", caller: .cli())
        _ = try await Self.enrollAuditor(f, "aud9")
        let aud9 = try await Self.unlock(f, "aud9")
        let seq = try await S.breakGlass(f, reason: "after a new auditor")
        #expect(try await Self.reasons(f, as: aud9)[seq] == "after a new auditor")
    }
}
