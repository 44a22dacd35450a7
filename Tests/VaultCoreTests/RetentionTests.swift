import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct RetentionTests {
    @Test("purge crypto-shreds closed cases past retention: rows and wraps gone, canary absent, held cases survive")
    func purge() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await f.vault.setRetention(desk: "ijime", days: 400, caller: .cli())  // lengthening applies at once
        let canary = "PURGE-CANARY-\(ID.v4())"
        let gone = try await f.vault.ingest(f.text(canary, user: "Ugone"), relay: f.relay, requestID: "r")
        let held = try await f.vault.ingest(f.text("held case", user: "Uheld"), relay: f.relay, requestID: "r")
        let open = try await f.vault.ingest(f.text("open case", user: "Uopen"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.updateCase(gone.caseID, CaseUpdate(status: "closed"), as: sup, requestID: "r")
        try await f.vault.updateCase(held.caseID, CaseUpdate(status: "closed", hold: true), as: sup, requestID: "r")
        clock.advance(seconds: 399 * 86_400)
        #expect(try await f.vault.purge(dryRun: false, caller: .cli()).cases.isEmpty)
        clock.advance(seconds: 2 * 86_400)
        let dry = try await f.vault.purge(dryRun: true, caller: .cli())
        #expect(dry.cases == [gone.caseID])
        #expect(dry.held == 1)
        let report = try await f.vault.purge(dryRun: false, caller: .cli())
        #expect(report.cases == [gone.caseID])
        #expect(report.messages == 1)
        let (left, wraps, epochs, entries) = try await f.vault.database.read { db in
            (
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(gone.caseID.bytes)]),
                try Int.fetchOne(
                    db,
                    sql:
                        "SELECT count(*) FROM key_wraps w JOIN case_epochs e ON e.key_id = w.key_id WHERE e.case_id = ?",
                    arguments: [Data(gone.caseID.bytes)]),
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM case_epochs WHERE case_id = ?", arguments: [Data(gone.caseID.bytes)]),
                try AuditLog.entries(in: db, limit: 10_000)
            )
        }
        #expect(left == 0 && wraps == 0 && epochs == 0)
        #expect(entries.contains { $0.action == "purge" && $0.target == "case:\(gone.caseID)" })
        let notes = try String(contentsOf: f.directory.appendingPathComponent("audit-checkpoints.log"), encoding: .utf8)
        #expect(notes.contains("\"type\":\"purge\""))
        #expect(notes.contains("purge case:\(gone.caseID)"))
        for (path, data) in try f.allBytes() where path.contains("vault.sqlite") {
            #expect(data.range(of: Data(canary.utf8)) == nil, "canary in \(path)")
        }
        let cou1 = try await f.unlock("cou1")
        let stillThere = try await f.vault.transcript(
            caseID: open.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        #expect(stillThere.first?.text == "open case")
        await #expect(throws: VaultError.self) {
            try await f.vault.transcript(caseID: gone.caseID, afterSeq: 0, limit: 10, as: cou1, requestID: "r")
        }
        let heldRows = try await f.vault.database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM messages WHERE case_id = ?", arguments: [Data(held.caseID.bytes)])
        }
        #expect(heldRows == 1)
    }

    @Test("retention never goes below the floor; a shortening waits for a supervisor of the desk")
    func retentionChanges() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        // Test vaults have a floor of 0; a production vault's floor is 365.
        #expect(f.vault.minRetentionDays == 0)
        #expect(try await f.vault.setRetention(desk: "ijime", days: 30, caller: .cli()) == false)
        let cou1 = try await f.unlock("cou1")
        await #expect(throws: VaultError.self) {
            try await f.vault.approveRetention(desk: "ijime", as: cou1, requestID: "r")
        }
        let sup2 = try await f.unlock("sup2")
        await #expect(throws: VaultError.self) {
            try await f.vault.approveRetention(desk: "ijime", as: sup2, requestID: "r")
        }
        let sup = try await f.unlock("sup")
        #expect(try await f.vault.approveRetention(desk: "ijime", as: sup, requestID: "r") == 30)
        await #expect(throws: VaultError.self) {
            try await f.vault.approveRetention(desk: "ijime", as: sup, requestID: "r")
        }
        let production = FileManager.default.temporaryDirectory.appendingPathComponent("cv-floor-\(ID.v4())")
        defer { try? FileManager.default.removeItem(at: production) }
        let v = try Vault.create(at: production, kdf: .test, minRetentionDays: 365)
        #expect(v.minRetentionDays == 365)
        await #expect(throws: VaultError.self) { try await v.setRetention(desk: "any", days: 100, caller: .cli()) }
    }
}
