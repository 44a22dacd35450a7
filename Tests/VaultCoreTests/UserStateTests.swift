import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// User accounts carry a MAC over their identity, role, state and enrollment code (issue 14): a database writer can
/// neither re-enable an account, reset one to `pending` with a code they know, nor add one. The v7 and v8 backfills
/// authenticate the rows of a vault made before them.
@Suite struct UserStateTests {
    func write(_ f: Fixture, _ sql: String, _ arguments: StatementArguments = []) async throws {
        try await f.vault.database.writer.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    func isIntegrityFailure(_ body: () async throws -> Void) async -> Bool {
        do {
            try await body()
            return false
        } catch let e as VaultError {
            return e.code == .integrity
        } catch {
            return false
        }
    }

    @Test("a disabled account switched back to active in the database does not unlock")
    func reEnabledAccount() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.disableUser(username: "cou3", caller: .cli())
        try await write(f, "UPDATE users SET state = 'active' WHERE username = 'cou3'")
        let failuresBefore = f.vault.integrityFailureCount
        #expect(await isIntegrityFailure { _ = try await f.unlock("cou3") })
        #expect(f.vault.integrityFailureCount == failuresBefore + 1)
        // The legitimate path beside it: an untouched account still unlocks.
        _ = try await f.unlock("cou1")
    }

    @Test("an account reset to pending with a code the writer knows cannot be enrolled again")
    func resetToPending() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let code = EnrollmentCode.generate()
        try await write(
            f,
            "UPDATE users SET state = 'pending', enroll_code_hash = ?, enroll_expires_at = ? WHERE username = 'adm'",
            [Data(EnrollmentCode.hash(code)), Int64.max / 2])
        #expect(
            await isIntegrityFailure {
                _ = try await f.vault.enroll(
                    username: "adm", code: code, passphrase: "a long passphrase of mallory", requestID: "r")
            })
        let attestation = try await f.vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT attestation FROM users WHERE username = 'adm'")
        }
        #expect(attestation != nil, "the admin's attested keys were not replaced")
    }

    @Test("an account inserted in the database cannot be enrolled; one added through the vault can")
    func insertedAccount() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let code = EnrollmentCode.generate()
        try await write(
            f,
            """
            INSERT INTO users (id, username, role, state, enroll_code_hash, enroll_expires_at, created_at)
            VALUES (?, 'mallory', 'admin', 'pending', ?, ?, 0)
            """, [Data(ID.v4().bytes), Data(EnrollmentCode.hash(code)), Int64.max / 2])
        #expect(
            await isIntegrityFailure {
                _ = try await f.vault.enroll(
                    username: "mallory", code: code, passphrase: "a long passphrase of mallory", requestID: "r")
            })
        let real = try await f.vault.addUser(username: "newadm", role: .admin, caller: .cli())
        _ = try await f.vault.enroll(
            username: "newadm", code: real.code, passphrase: "a long passphrase of newadm", requestID: "r")
    }

    @Test("a vault made before v7 and v8 is migrated on open: every existing row is authenticated and works")
    func backfill() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let message = try await f.vault.ingest(f.text("before the upgrade"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        _ = try await f.vault.breakGlass(message.caseID, reason: "check", as: sup, requestID: "r")
        // Undo v8 and v7 as a pre-v7 database would have them (columns, triggers, migration records).
        try await f.vault.database.writer.writeWithoutTransaction { db in
            try db.execute(sql: "ALTER TABLE users DROP COLUMN state_mac")
            try db.execute(sql: "DROP TRIGGER desk_manifests_append_only_delete")
            try db.execute(sql: "DROP TRIGGER desk_manifests_append_only_update")
            for table in ["cases", "case_grants", "desks", "access_requests", "audit_reviews", "relay_tokens"] {
                try db.execute(sql: "ALTER TABLE \(table) DROP COLUMN state_mac")
            }
            try db.execute(sql: "ALTER TABLE desks DROP COLUMN recovery_vouched_by")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier IN ('v7-state-macs', 'v8-user-macs')")
        }
        try f.vault.database.writer.close()
        let reopened = try Vault.open(at: f.directory)
        let failures = reopened.integrityFailureCount
        let cou1 = try await reopened.unlockForCLI(username: "cou1", passphrase: f.passphrases["cou1"]!)
        let page = try await reopened.transcript(
            caseID: message.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        #expect(page.map(\.text) == ["before the upgrade"])
        try await reopened.assign(caseID: message.caseID, to: "cou1", as: cou1, requestID: "r")
        let token = try #require(try await reopened.authenticateRelay(f.relayToken))
        _ = try await reopened.ingest(f.text("after the upgrade"), relay: token, requestID: "r")
        #expect(try await reopened.expireGrants() == 0)
        #expect(reopened.integrityFailureCount == failures)
        let unmacd = try await reopened.database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM users WHERE state_mac IS NULL)
                        + (SELECT count(*) FROM cases WHERE state_mac IS NULL)
                        + (SELECT count(*) FROM case_grants WHERE state_mac IS NULL)
                        + (SELECT count(*) FROM desks WHERE state_mac IS NULL OR recovery_vouched_by IS NULL)
                        + (SELECT count(*) FROM relay_tokens WHERE state_mac IS NULL)
                    """)
        }
        #expect(unmacd == 0)
    }
}
