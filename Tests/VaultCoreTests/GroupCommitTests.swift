import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct GroupCommitTests {
    @Test("200 concurrent ingests share commits; each is stored once, seqs are contiguous, the chain verifies")
    func concurrentIngestsShareCommits() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let before = f.vault.database.batchStatistics
        let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await f.vault.ingest(
                        f.text("メッセージ \(i) 🙏", user: "Uconcurrent\(i % 10)", external: "c-\(i)"), relay: f.relay,
                        requestID: "r\(i)")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 200)
        #expect(results.allSatisfy { !$0.duplicate })
        #expect(Set(results.map(\.messageID)).count == 200)
        #expect(Set(results.map(\.caseID)).count == 10)
        let after = f.vault.database.batchStatistics
        #expect(after.writes - before.writes == 200)
        #expect(after.batches - before.batches < 200, "concurrent writes were committed one by one")
        try await f.vault.database.read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") == 200)
            let gaps = try Int.fetchOne(
                db,
                sql:
                    "SELECT count(*) FROM cases c WHERE message_count != (SELECT max(seq) FROM messages m WHERE m.case_id = c.id)"
                    + " OR message_count != (SELECT count(*) FROM messages m WHERE m.case_id = c.id)")
            #expect(gaps == 0)
            #expect(
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM access_log WHERE action = 'relay.write' AND outcome = 'allowed'")
                    == 200)
            #expect(try AuditLog.firstBrokenSeq(in: db) == nil)
        }
    }

    @Test("20 simultaneous posts of one external id store one message; all answer its ids")
    func idempotentUnderConcurrency() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        // One message first, so the case exists and the others are sealed before the lock.
        _ = try await f.vault.ingest(f.text("first"), relay: f.relay, requestID: "r0")
        let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
            for i in 0..<20 {
                group.addTask {
                    try await f.vault.ingest(f.text("again", external: "same-id"), relay: f.relay, requestID: "r\(i)")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { !$0.duplicate }.count == 1)
        #expect(Set(results.map(\.messageID)).count == 1)
        let stored = try await f.vault.database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM messages WHERE external_id = 'same-id'")
        }
        #expect(stored == 1)
    }

    @Test("a write that throws in a batch is rolled back alone; the others in the batch commit")
    func failingWriteFailsAlone() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        struct Boom: Error {}
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<60 {
                group.addTask {
                    do {
                        try await f.vault.database.batched { db in
                            try db.execute(
                                sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)",
                                arguments: ["t\(i)", Data([1])])
                            if i % 3 == 0 { throw Boom() }
                        }
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for i in 0..<60 { #expect(outcomes[i] == (i % 3 != 0)) }
        let keys = try await f.vault.database.read { db in
            try String.fetchAll(db, sql: "SELECT key FROM vault_meta WHERE key LIKE 't%'")
        }
        #expect(Set(keys) == Set((0..<60).filter { $0 % 3 != 0 }.map { "t\($0)" }))
    }

    @Test("the batch memo lives for one batch: a token revoked after an ingest is refused at the next write")
    func memoPerBatch() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        #expect(f.vault.database.batchMemo == nil)
        _ = try await f.vault.ingest(f.text("before"), relay: f.relay, requestID: "r1")
        #expect(f.vault.database.batchMemo == nil, "the memo outlived its batch")
        try await f.vault.revokeRelayToken(name: "relay1", caller: .cli())
        await #expect(throws: VaultError.self) {
            try await f.vault.ingest(f.text("after"), relay: f.relay, requestID: "r2")
        }
        let stored = try await f.vault.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages")
        }
        #expect(stored == 1)
    }

    @Test("log entries of a rolled-back write vanish with it; the batch's other entries chain without a gap")
    func rolledBackAuditEntries() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        struct Boom: Error {}
        let before = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 100_000).count }
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<60 {
                group.addTask {
                    _ = try? await f.vault.database.batched { db in
                        try f.vault.record(db, .cli(), "test.write", "t\(i)")
                        if i % 4 == 0 { throw Boom() }
                    }
                }
            }
        }
        try await f.vault.database.read { db in
            let entries = try AuditLog.entries(in: db, limit: 100_000)
            let targets = entries.filter { $0.action == "test.write" }.map(\.target)
            #expect(Set(targets) == Set((0..<60).filter { $0 % 4 != 0 }.map { "t\($0)" }))
            #expect(entries.count == before + 45)
            #expect(entries.map(\.seq) == Array(1...Int64(entries.count)))
            #expect(try AuditLog.firstBrokenSeq(in: db) == nil)
        }
    }

    @Test("after a restart, an existing case's first message leaves its route hint, so the next ones read nothing")
    func routeHintAfterRestart() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let first = try await f.vault.ingest(f.text("before the restart"), relay: f.relay, requestID: "a")
        let reopened = try Vault.open(at: f.directory)
        let relay = try #require(try await reopened.authenticateRelay(f.relayToken))
        let desk = try #require(try await reopened.database.read { db in try reopened.desk(db, name: "ijime") })
        let routing = try reopened.routingID(desk: desk.id, channelUser: f.text("").channelUser)
        #expect(reopened.hints.route(routing) == nil)
        let second = try await reopened.ingest(f.text("after"), relay: relay, requestID: "b")
        #expect(second.caseID == first.caseID)
        // Before the fix the hint stayed empty (the write accepted the envelope sealed from the read, so it never
        // remembered one) and every later message of the case took a read transaction first.
        let hint = try #require(reopened.hints.route(routing))
        #expect(hint.caseID == first.caseID)
        let third = try await reopened.ingest(f.text("and again"), relay: relay, requestID: "c")
        #expect(third.caseID == first.caseID)
    }

    @Test("a write for a desk the token does not cover is denied and recorded, in the same batch as others")
    func deniedInBatch() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        var other = f.text("not yours")
        other.desk = "gyakutai"
        let o = other
        async let denied: Void = {
            await #expect(throws: VaultError.self) { try await f.vault.ingest(o, relay: f.relay, requestID: "d") }
        }()
        async let fine = f.vault.ingest(f.text("fine"), relay: f.relay, requestID: "ok")
        _ = await denied
        #expect(try await fine.duplicate == false)
        let (messages, denials) = try await f.vault.database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM messages"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM access_log WHERE outcome = 'denied'")
            )
        }
        #expect(messages == 1)
        #expect(denials == 1)
    }
}
