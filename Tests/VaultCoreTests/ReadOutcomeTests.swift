import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// A transcript read that serves nothing because a key is missing or its wrap fails its check is logged as an
/// `error`, not as an allowed read.
@Suite struct ReadOutcomeTests {
    static func lastReads(_ f: Fixture) async throws -> [AuditEntry] {
        try await f.vault.database.read { db in
            try AuditLog.entries(in: db).filter { $0.action == "transcript.read" }
        }
    }

    /// Flips one byte in every stored wrap of the case's epoch keys (someone who can write the database).
    static func flipWraps(_ f: Fixture, caseID: ID) async throws {
        try await f.vault.database.transaction { db in
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT id, sealed FROM key_wraps WHERE key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)",
                arguments: [Data(caseID.bytes)])
            for row in rows {
                var sealed = Array(row["sealed"] as Data)
                sealed[40] ^= 1
                try db.execute(
                    sql: "UPDATE key_wraps SET sealed = ? WHERE id = ?", arguments: [Data(sealed), row["id"] as Int64])
            }
        }
    }

    @Test("a read that fails for a missing key is logged `error`; a readable one `allowed`")
    func missingKey() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "w").caseID
        let cou1 = try await f.unlock("cou1")
        _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "ok")
        #expect(try await Self.lastReads(f).last?.outcome == .allowed)
        // The epoch's wraps are gone (a database writer, or a grant that ended): the reader holds no key.
        try await f.vault.database.transaction { db in
            try db.execute(
                sql: "DELETE FROM key_wraps WHERE key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)",
                arguments: [Data(caseID.bytes)])
        }
        let cou4 = try await f.unlock("cou4")
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou4, requestID: "missing")
        }
        let last = try #require(try await Self.lastReads(f).last)
        #expect(last.requestID == "missing")
        #expect(last.outcome == .error)
    }

    @Test("an attachment read through a tampered key wrap fails with integrity_failure and is logged `error`")
    func tamperedWrapContent() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await RichCase.prepare(f)
        let result = try await RichCase.webhook(
            f,
            [
                RichCase.event(
                    "message", id: "ev-image", user: "U-content",
                    #","message":{"type":"image","id":"content-image","contentProvider":{"type":"line"}}"#)
            ])
        let imageID = try #require(result.contentPending.first?.messageID)
        let upload = try await f.vault.beginContent(
            messageID: imageID, contentType: "image/png", limit: 1 << 20, relay: f.relay, requestID: "put")
        try await upload.append([UInt8](repeating: 0x5A, count: 100))
        _ = try await upload.finish()
        let caseID = try #require(
            try await f.vault.database.read { db in
                try Data.fetchOne(
                    db, sql: "SELECT case_id FROM messages WHERE id = ?", arguments: [Data(imageID.bytes)])
            }.flatMap { ID(bytes: Array($0)) })
        let cou1 = try await f.unlock("cou1")
        let reads = { () async throws -> [AuditEntry] in
            try await f.vault.database.read { db in
                try AuditLog.entries(in: db).filter { $0.action == "content.read" }
            }
        }
        _ = try await f.vault.openContent(caseID: caseID, messageID: imageID, as: cou1, requestID: "ok")
        #expect(try await reads().last?.outcome == .allowed)
        try await Self.flipWraps(f, caseID: caseID)
        let cou4 = try await f.unlock("cou4")  // a fresh session: no epoch key cached
        let error = await #expect(throws: VaultError.self) {
            _ = try await f.vault.openContent(caseID: caseID, messageID: imageID, as: cou4, requestID: "bad")
        }
        #expect(error?.code == .integrity)
        #expect(try await reads().last?.outcome == .error)
        #expect(try await reads().last?.requestID == "bad")
    }

    @Test("a read through a tampered key wrap fails with integrity_failure and is logged `error`")
    func tamperedWrap() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let caseID = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "w").caseID
        try await Self.flipWraps(f, caseID: caseID)
        let cou1 = try await f.unlock("cou1")
        let error = await #expect(throws: VaultError.self) {
            _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "t")
        }
        #expect(error?.code == .integrity)
        #expect(try await Self.lastReads(f).last?.outcome == .error)
    }
}
