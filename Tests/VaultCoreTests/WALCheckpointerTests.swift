import Foundation
import GRDB
import Testing
import VaultTestSupport

@testable import VaultCore

/// The background WAL checkpointer `serve` runs (Storage/WALCheckpointer.swift).
@Suite struct WALCheckpointerTests {
    static func autocheckpoint(_ f: Fixture) async throws -> Int {
        try await f.vault.database.writer.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? -1
        }
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// While it runs, committed pages reach the database file without the writer checkpointing; stopped, the
    /// writer's own automatic checkpoint is back.
    @Test("committed pages reach the database file from the background loop; stopped, the writer's checkpoint is back")
    func checkpointsInTheBackground() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let path = Vault.databasePath(f.directory)
        #expect(try await Self.autocheckpoint(f) == 1000)
        let loop = Task { try await f.vault.database.runBackgroundCheckpoints(every: .milliseconds(20)) }
        var raised = false
        for _ in 0..<200 where !raised {
            try await Task.sleep(for: .milliseconds(10))
            raised = try await Self.autocheckpoint(f) == VaultDatabase.fallbackCheckpointPages
        }
        #expect(raised, "the writer's automatic checkpoint was not raised to the fallback")
        try await Task.sleep(for: .milliseconds(100))
        let before = try Self.fileSize(path)
        // Some hundred pages: far below the writer's own threshold (16,384), so only the background loop can move
        // them into the database file.
        for i in 0..<300 {
            _ = try await f.vault.ingest(
                f.text(String(repeating: "checkpoint ", count: 80) + "\(i)", user: "Uwal\(i % 7)", external: "w-\(i)"),
                relay: f.relay, requestID: "w\(i)")
        }
        var grown = false
        for _ in 0..<300 where !grown {
            try await Task.sleep(for: .milliseconds(10))
            grown = try Self.fileSize(path) > before
        }
        #expect(grown, "no committed page reached the database file")
        loop.cancel()
        try await loop.value
        #expect(try await Self.autocheckpoint(f) == 1000)
        let stored = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM messages")
        }
        #expect(stored == 300)
    }
}
