import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

@Suite struct CheckpointServiceTests {
    static func newestAnchor(_ f: Fixture) async throws -> Int64 {
        try await f.vault.database.read { db in try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_notes") ?? 0 }
    }

    static func head(_ f: Fixture) async throws -> Int64 {
        try await f.vault.database.read { db in try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log") ?? 0 }
    }

    /// Polls for up to 5 s until the newest note anchors the head.
    static func anchored(_ f: Fixture) async throws -> Bool {
        for _ in 0..<50 {
            if try await newestAnchor(f) == (try await head(f)) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test("serve checkpoints at start, on its timer when entries were added, and at graceful shutdown")
    func timerAndShutdown() async throws {
        var settings = VaultSettings()
        settings.checkpointEvery = 0
        settings.checkpointSeconds = 1
        let f = try await Fixture.make(settings: settings)
        defer { f.remove() }
        #expect(try await Self.newestAnchor(f) == 0)
        var configuration = ServeConfiguration()
        configuration.port = 0
        let app = buildApplication(vault: f.vault, configuration: configuration, logger: Logger(label: "test"))
        try await app.test(.live) { client in
            let r = try await client.call(.get, "/healthz")
            #expect(r.status == .ok)
            #expect(try await Self.anchored(f))  // signed at start
            let token = try await unlockToken(client, f, "cou1")  // adds an entry
            _ = try await client.call(.get, "/v1/cases", token: token)
            #expect(try await Self.anchored(f))  // signed by the timer
            _ = try await client.call(.post, "/v1/sessions", json: ["username": "cou1", "passphrase": "wrong one"])
        }
        #expect(try await Self.newestAnchor(f) == (try await Self.head(f)))  // signed at shutdown
        let summary = try await f.vault.verifyAuditLog()
        #expect(summary.unanchored == 0)
        #expect(summary.checkpoints >= 3)
    }
}
