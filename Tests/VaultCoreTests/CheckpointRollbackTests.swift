import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// M1: a checkpoint signed in a transaction that does not commit must never reach audit-checkpoints.log, and the
/// vault is not ready while that file cannot be written.
@Suite struct CheckpointRollbackTests {
    static func fileSeqs(_ f: Fixture) throws -> [Int64] {
        let text = String(decoding: f.vault.checkpointFile.contents() ?? [], as: UTF8.self)
        return try text.split(separator: "\n").map { line in
            let o = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try AuditNote(parsing: SignedNote(parsing: o["note"] as! String).text).seq
        }
    }

    static let sup = Caller(actor: "sup", role: "supervisor", requestID: "bg")

    @Test("a break-glass checkpoint whose transaction SQLite rolls back itself (as on a full disk) leaves no line")
    func sqliteRollback() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        // On the writer connection only (temp objects are not part of the database file): an insert into `boom`
        // makes SQLite roll the whole transaction back, as it does after SQLITE_FULL or an I/O error.
        try await f.vault.database.writer.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    CREATE TEMP TABLE boom (x);
                    CREATE TEMP TRIGGER boom_rollback BEFORE INSERT ON boom
                    BEGIN SELECT RAISE(ROLLBACK, 'simulated disk full'); END
                    """)
        }
        let linesBefore = try Self.fileSeqs(f)
        await #expect(throws: (any Error).self) {
            try await f.vault.database.transaction { db in
                let desk = try f.vault.desk(db, name: "ijime")
                try f.vault.record(db, Self.sup, "breakglass.start", "case:\(ID.v4())", reason: "r", desk: desk)
                try f.vault.checkpoint(db, force: true)
                try db.execute(sql: "INSERT INTO boom VALUES (1)")
            }
        }
        // The next successful commit, with a different entry at the same seq, checkpointed too.
        try await f.vault.database.transaction { db in
            try f.vault.record(db, Self.sup, "case.update", "case:\(ID.v4())")
            try f.vault.checkpoint(db, force: true)
        }
        let stored = try await f.vault.auditNotes().map(\.seq)
        let lines = try Self.fileSeqs(f)
        #expect(lines.count == linesBefore.count + 1)
        #expect(lines == stored)
        _ = try await f.vault.verifyAuditLog()
    }

    @Test("a checkpoint in a write that throws leaves no line; the committed one after it does")
    func thrownRollback() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await f.vault.database.transaction { db in
                try f.vault.record(db, Self.sup, "breakglass.start", "case:\(ID.v4())")
                try f.vault.checkpoint(db, force: true)
                throw Boom()
            }
        }
        try await f.vault.database.transaction { db in
            try f.vault.record(db, Self.sup, "case.update", "case:\(ID.v4())")
            try f.vault.checkpoint(db, force: true)
        }
        #expect(try Self.fileSeqs(f) == (try await f.vault.auditNotes().map(\.seq)))
        _ = try await f.vault.verifyAuditLog()
    }

    @Test("while audit-checkpoints.log cannot be written the vault is not ready; the kept line is written after")
    func unwritableFile() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await f.vault.checkpoint(force: true)
        try await f.vault.checkWritable()
        let url = f.vault.checkpointFile.url
        let aside = url.appendingPathExtension("aside")
        let fm = FileManager.default
        try fm.moveItem(at: url, to: aside)
        try fm.createDirectory(at: url, withIntermediateDirectories: false)  // open(2) for writing now fails
        let note = try #require(
            try await f.vault.database.transaction { db in
                try f.vault.record(db, Self.sup, "case.update", "case:\(ID.v4())")
                return try f.vault.checkpoint(db, force: true)
            })
        let error = await #expect(throws: VaultError.self) { try await f.vault.checkWritable() }
        #expect(error?.code == .auditUnavailable)
        try fm.removeItem(at: url)
        try fm.moveItem(at: aside, to: url)
        try await f.vault.checkWritable()
        let text = String(decoding: f.vault.checkpointFile.contents() ?? [], as: UTF8.self)
        #expect(text.contains(String(decoding: note.line(kind: .checkpoint).dropLast(), as: UTF8.self)))
        #expect(try Self.fileSeqs(f) == (try await f.vault.auditNotes().map(\.seq)))
        _ = try await f.vault.verifyAuditLog()
    }
}
