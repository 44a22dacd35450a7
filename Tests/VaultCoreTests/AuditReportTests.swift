import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct AuditReportTests {
    @Test("only auditors get a report; the attempt is recorded")
    func onlyAuditors() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let sup = try await f.unlock("sup")
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.auditReport(since: 0, until: 86_400_000, as: sup, requestID: "r")
        }
        let last = try await f.vault.database.read { db in try AuditLog.entries(in: db, after: 0, limit: 10_000).last }
        #expect(last?.action == "audit.read")
        #expect(last?.outcome == .denied)
        #expect(
            AuditReport.parseDate("2026-11-22", endOfDay: true) == AuditReport.parseDate("2026-11-23", endOfDay: false))
    }
}
