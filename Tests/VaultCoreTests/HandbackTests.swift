import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Issue 20, the hand-back: every case of a desk opened with the recovery key alone and written as a signed ZIP in
/// an age file; checked here against the database row by row.
@Suite struct HandbackTests {
    /// Opens an age file with `identity` and returns the ZIP's entries.
    static func open(_ url: URL, _ identity: AgeIdentity) throws -> [String: [UInt8]] {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let decryptor = try AgeDecryptor(identities: [identity]) { n in [UInt8](try handle.read(upToCount: n) ?? Data())
        }
        var zip = Data()
        while let chunk = try decryptor.next() { zip.append(contentsOf: chunk) }
        return try PackageCheck.entries(zip)
    }

    static func json(_ bytes: [UInt8]?) throws -> [String: Any] {
        let data = Data(try #require(bytes))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every message of the desk in the database: case id → message ids in seq order.
    static func stored(_ f: Fixture, desk: String) async throws -> [String: [String]] {
        try await f.vault.database.read { db in
            var out: [String: [String]] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT m.case_id, m.id FROM messages m JOIN desks d ON d.id = m.desk_id WHERE d.name = ?
                    ORDER BY m.case_id, m.seq
                    """, arguments: [desk])
            {
                let c = ID(bytes: Array(row[0] as Data))!.description
                out[c, default: []].append(ID(bytes: Array(row[1] as Data))!.description)
            }
            return out
        }
    }

    @Test(
        "a 1,000-case hand-back holds every message of every case (v1 and v2), notes, records, media, grants, the log and the verifier key, signed"
    )
    func thousandCases() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await RichCase.prepare(f)
        let rich = try await RichCase.make(f, tag: "hb", .close)
        // 1,000 more cases, two v2 texts each, written eight at a time (group commit); texts kept to compare.
        let texts = try await withThrowingTaskGroup(of: [(String, String)].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var seen: [(String, String)] = []
                    for i in stride(from: worker, to: 1000, by: 8) {
                        for n in 0..<2 {
                            let text = "相談 \(i)-\(n) <&>"
                            let s = try await f.vault.ingest(
                                f.text(text, user: "U-hb-\(i)"), relay: f.relay, requestID: "s")
                            seen.append((s.messageID.description, text))
                        }
                    }
                    return seen
                }
            }
            var all: [String: String] = [:]
            for try await part in group { for (id, text) in part { all[id] = text } }
            return all
        }
        #expect(texts.count == 2000)
        // Version 1 envelopes (as stored before v2) in every 100th case, and coded records on every 10th.
        let sup = try await f.unlock("sup")
        let caseIDs = try await f.vault.database.read { db in
            try Data.fetchAll(db, sql: "SELECT id FROM cases ORDER BY opened_at, id").map { ID(bytes: Array($0))! }
        }
        var v1: [String: String] = [:]
        for (i, caseID) in caseIDs.enumerated() where caseID != rich.caseID {
            if i % 100 == 1 {
                let (id, text) = try await f.vault.database.transaction { db in
                    let c = try #require(try f.vault.findCase(db, id: caseID))
                    let epoch = try f.vault.epochKey(db, case: c, epoch: c.currentEpoch)
                    let text = "v1 envelope \(i)"
                    let envelope = try Envelope.seal(
                        plaintext: Plaintext.text(text), messageID: ID.v7(milliseconds: f.vault.now()), caseID: c.id,
                        epochPublicKey: epoch.publicKey, direction: "inbound", kind: "text", author: "channel",
                        sentAt: 1_795_000_000_500)
                    try MessageStore.insert(
                        db, envelope, case: c, externalID: "v1-\(i)", writtenBy: "relay:relay1", now: f.vault.now())
                    return (envelope.messageID.description, text)
                }
                v1[id] = text
            }
            if i % 10 == 0 {
                _ = try await f.vault.writeCaseRecord(
                    CaseRecordInput(categories: ["bullying"], gender: "female"), caseID: caseID, as: sup,
                    requestID: "w")
            }
        }
        #expect(v1.count == 10)

        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let identity = try AgeIdentity.generate()
        let out = dir.appendingPathComponent("ijime.age")
        var calls = 0
        let summary = try await f.vault.handback(
            desk: "ijime", recoverySecret: f.recovery.secretKey, to: identity.recipient, out: out,
            caller: Caller(actor: "cli:municipality", role: "cli", requestID: "hb")
        ) { done, all in
            calls += 1
            #expect(done <= all)
        }
        let stored = try await Self.stored(f, desk: "ijime")
        #expect(summary.cases == 1001 && stored.count == 1001 && calls == 1001)
        #expect(summary.messages == stored.values.map(\.count).reduce(0, +))
        #expect(summary.mediaFiles == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["ijime.age"])

        let entries = try Self.open(out, identity)
        #expect(try PackageCheck.verify(entries, signingKeys: [f.vault.keys.signing.publicKey]) == entries.count - 2)
        var v2Seen = 0
        var v1Seen = 0
        for (caseID, ids) in stored {
            let transcript = try Self.json(entries["cases/\(caseID)/transcript.json"])
            let messages = try #require(transcript["messages"] as? [[String: Any]])
            #expect(messages.compactMap { $0["id"] as? String } == ids, "case \(caseID)")
            for m in messages {
                let id = m["id"] as? String ?? ""
                if let text = texts[id] {
                    #expect(m["text"] as? String == text)
                    v2Seen += 1
                }
                if let text = v1[id] {
                    #expect(m["text"] as? String == text)
                    v1Seen += 1
                }
            }
            for file in ["transcript.html", "notes.json", "record.json", "grants.json"] {
                #expect(entries["cases/\(caseID)/\(file)"] != nil, "\(file) of \(caseID)")
            }
        }
        #expect(v2Seen == 2000 && v1Seen == 10)

        // The rich case: its media byte for byte, its note, its grants (request and break-glass).
        let prefix = "cases/\(rich.caseID)/"
        #expect(
            entries[prefix + "media/\(rich.imageID).png"]
                == [UInt8](repeating: 0x5A, count: ContentUpload.chunkSize + 100))
        let notes = try #require(try Self.json(entries[prefix + "notes.json"])["notes"] as? [[String: Any]])
        #expect(notes.map { $0["text"] as? String } == ["NOTE-hb"])
        let grants = try #require(try Self.json(entries[prefix + "grants.json"])["grants"] as? [[String: Any]])
        #expect(Set(grants.compactMap { $0["kind"] as? String }) == ["request", "breakglass"])
        let requests = try #require(try Self.json(entries[prefix + "grants.json"])["requests"] as? [[String: Any]])
        #expect(requests.first?["requester"] as? String == "cou4")
        #expect(String(decoding: entries[prefix + "transcript.html"] ?? [], as: UTF8.self).contains("NOTE-hb"))

        // A coded record (every 10th case) and an empty one.
        let recorded = try Self.json(entries["cases/\(caseIDs[10])/record.json"])["record"] as? [String: Any]
        #expect(recorded?["categories"] as? [String] == ["bullying"] && recorded?["gender"] as? String == "female")
        let empty = try Self.json(entries["cases/\(caseIDs[11])/record.json"])["record"] as? [String: Any]
        #expect(empty?["categories"] as? [String] == [] && empty?["inbound_count"] as? Int == 2)

        // The log holds the hand-back itself, and the verifier key is the vault's.
        let log = String(decoding: try #require(entries["access-log.jsonl"]), as: UTF8.self)
        #expect(log.contains(#""action":"handback""#) && log.contains("cli:municipality"))
        let pub = try Data(contentsOf: Vault.keysDirectory(f.directory).appendingPathComponent("vault-signing.pub"))
        #expect(entries["vault-signing.pub"] == Array(pub))
        // Nothing of the plaintext is in the age file.
        let cipher = try Data(contentsOf: out)
        #expect(cipher.range(of: Data("相談 7-1".utf8)) == nil && cipher.range(of: Data("NOTE-hb".utf8)) == nil)
    }

    @Test("a secret that is not the desk's recovery key, an unknown desk or an existing file: refused, nothing written")
    func refusals() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await f.vault.ingest(f.text("CANARY-refusal"), relay: f.relay, requestID: "s")
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let identity = try AgeIdentity.generate()
        let out = dir.appendingPathComponent("x.age")
        let caller = Caller(actor: "cli:municipality", role: "cli", requestID: "hb")
        let other = try BoxKeyPair.generate()
        await #expect {
            _ = try await f.vault.handback(
                desk: "ijime", recoverySecret: other.secretKey, to: identity.recipient, out: out, caller: caller)
        } throws: { ($0 as? VaultError)?.code == .forbidden }
        await #expect {
            _ = try await f.vault.handback(
                desk: "nosuch", recoverySecret: f.recovery.secretKey, to: identity.recipient, out: out, caller: caller)
        } throws: { ($0 as? VaultError)?.code == .notFound }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let last = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }.last
        #expect(last?.action == "handback" && last?.outcome == .denied && last?.target == "desk:ijime")

        try Data("keep".utf8).write(to: out)
        await #expect {
            _ = try await f.vault.handback(
                desk: "ijime", recoverySecret: f.recovery.secretKey, to: identity.recipient, out: out, caller: caller)
        } throws: { ($0 as? VaultError)?.code == .conflict }
        #expect(try Data(contentsOf: out) == Data("keep".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.age"])
    }
}
