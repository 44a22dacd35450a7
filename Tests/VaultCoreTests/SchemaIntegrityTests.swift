import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// H3: someone who can write vault.sqlite but not run the process plants a trigger that swallows access-log inserts.
@Suite struct SchemaIntegrityTests {
    static let swallow = "CREATE TRIGGER t BEFORE INSERT ON access_log BEGIN SELECT RAISE(IGNORE); END"

    /// Runs `sql` on the database file through a connection of its own (the attacker's).
    static func plant(_ path: String, _ sql: String = swallow) throws {
        let q = try DatabaseQueue(path: path)
        try q.writeWithoutTransaction { try $0.execute(sql: sql) }
        try q.close()
    }

    static func entryCount(_ f: Fixture) async throws -> Int {
        try await f.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM access_log") ?? 0 }
    }

    @Test("an untouched vault opens and its schema equals the golden one the migrations make")
    func untouched() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try f.vault.database.verifySchema()
        _ = try Vault.open(at: f.directory)
        try await f.vault.checkWritable()
    }

    @Test("a trigger planted in the database file makes open refuse with integrity_failure naming it")
    func plantedAtRest() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try Self.plant(Vault.databasePath(f.directory))
        let error = #expect(throws: VaultError.self) { _ = try Vault.open(at: f.directory) }
        #expect(error?.code == .integrity)
        #expect(error?.message.contains("trigger t") == true)
    }

    @Test("an extra index, a dropped index and an altered trigger each make open refuse")
    func otherChanges() async throws {
        for sql in [
            "CREATE INDEX spare ON users(role)", "DROP INDEX key_wraps_recipient",
            """
            DROP TRIGGER access_log_append_only_delete;
            CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log WHEN 0
            BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END
            """,
        ] {
            let f = try await Fixture.make()
            defer { f.remove() }
            try Self.plant(Vault.databasePath(f.directory), sql)
            let error = #expect(throws: VaultError.self, "\(sql)") { _ = try Vault.open(at: f.directory) }
            #expect(error?.code == .integrity)
        }
    }

    @Test("a backup carrying a planted trigger is refused by restore, and nothing is left behind")
    func plantedInBackup() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cv-bk-\(ID.v4())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let clean = work.appendingPathComponent("clean.cvbackup")
        _ = try await f.vault.backup(to: clean, caller: .cli())
        // The attacker unpacks the archive, plants the trigger and packs it again (its hash is unkeyed).
        let db = work.appendingPathComponent("unpacked.sqlite")
        let (meta, log) = try BackupArchive.read(from: clean, database: db)
        try Self.plant(db.path)
        let tampered = work.appendingPathComponent("tampered.cvbackup")
        try BackupArchive.write(to: tampered, metadata: meta, database: db, checkpoints: log)
        let target = work.appendingPathComponent("restored")
        let error = await #expect(throws: VaultError.self) {
            _ = try await Vault.restore(
                from: tampered, keys: Vault.keysDirectory(f.directory), to: target, checkpoints: nil, caller: .cli())
        }
        #expect(error?.code == .integrity)
        #expect(!FileManager.default.fileExists(atPath: target.path))
        // The untampered backup still restores.
        let ok = work.appendingPathComponent("restored-ok")
        let summary = try await Vault.restore(
            from: clean, keys: Vault.keysDirectory(f.directory), to: ok, checkpoints: nil, caller: .cli())
        #expect(summary.entries > 0)
    }

    @Test("a trigger planted while the vault runs: the next append fails closed, nothing is served, readiness refuses")
    func plantedLive() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await f.vault.ingest(f.text("first"), relay: f.relay, requestID: "w").caseID
        let cou1 = try await f.unlock("cou1")
        let page = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r1")
        #expect(page.map(\.text) == ["first"])
        let before = try await Self.entryCount(f)
        try Self.plant(Vault.databasePath(f.directory))
        let read = await #expect(throws: VaultError.self) {
            _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r2")
        }
        #expect(read?.code == .integrity)
        let write = await #expect(throws: VaultError.self) {
            _ = try await f.vault.ingest(f.text("second"), relay: f.relay, requestID: "w2")
        }
        #expect(write?.code == .integrity)
        #expect(try await Self.entryCount(f) == before)
        let ready = await #expect(throws: VaultError.self) { try await f.vault.checkWritable() }
        #expect(ready?.code == .integrity)
    }
}
