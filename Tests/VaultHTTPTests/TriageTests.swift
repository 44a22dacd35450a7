import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCrypto
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

/// Issue 17: the triage queue order, `waiting_since`, `repeat_contacts`, keyword triage and the sealed form's hint.
@Suite struct TriageTests {
    static func post(
        _ client: some TestClientProtocol, _ f: Fixture, _ text: String, user: String, at: String
    ) async throws -> String {
        var body = message(text, user: user)
        body["sent_at"] = at
        let r = try await client.call(.post, "/v1/messages", token: f.relayToken, json: body)
        #expect(r.status == .created || r.status == .ok)
        return try #require(r.json["case_id"] as? String)
    }

    @Test("the open queue is in triage order: risk imminent first, then the oldest wait, nothing waiting last")
    func triageOrder() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let supUser = try await f.unlock("sup")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: supUser, requestID: "k")
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            // Five people; times chosen so activity order differs from triage order.
            let a = try await Self.post(client, f, "a", user: "UA", at: "2026-11-22T09:00:00.000+09:00")
            let b = try await Self.post(client, f, "b", user: "UB", at: "2026-11-22T09:05:00.000+09:00")
            let c = try await Self.post(client, f, "c", user: "UC", at: "2026-11-22T09:10:00.000+09:00")
            let d = try await Self.post(client, f, "d", user: "UD", at: "2026-11-22T09:01:00.000+09:00")
            let e = try await Self.post(client, f, "e", user: "UE", at: "2026-11-22T08:00:00.000+09:00")
            // a and c high, b imminent, d and e none; e was answered (waits for nothing).
            for (id, risk) in [(a, "high"), (c, "high"), (b, "imminent")] {
                let r = try await client.call(.patch, "/v1/cases/\(id)", token: sup, json: ["risk": risk])
                #expect(r.status == .ok)
            }
            #expect(
                try await client.call(.post, "/v1/cases/\(e)/assign", token: sup, json: ["assignee": "cou1"]).status
                    == .ok)
            let cou = try await f.unlock("cou1")
            _ = try await f.vault.queueReply(caseID: ID(e)!, text: "返信", as: cou, requestID: "r")
            let list = try await client.call(.get, "/v1/cases?status=open", token: sup)
            #expect(list.status == .ok)
            let cases = try #require(list.json["cases"] as? [[String: Any]])
            #expect(cases.compactMap { $0["id"] as? String } == [b, a, c, d, e])
            let byID = Dictionary(uniqueKeysWithValues: cases.map { ($0["id"] as! String, $0) })
            #expect(byID[a]?["waiting_since"] as? String == "2026-11-22T00:00:00.000Z")
            #expect(byID[e]?["waiting_since"] is NSNull)
            #expect(byID[a]?["repeat_contacts"] as? Int == 0)
            // order=activity keeps the newest-first listing; a bad order is refused.
            let activity = try await client.call(.get, "/v1/cases?status=open&order=activity", token: sup)
            let ids = (activity.json["cases"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(Set(ids) == Set([a, b, c, d, e]) && ids != [b, a, c, d, e])
            #expect(try await client.call(.get, "/v1/cases?order=risk", token: sup).status == .badRequest)
            // Paging in triage order: after the second case come the rest.
            let page = try await client.call(.get, "/v1/cases?status=open&after=\(a)&limit=2", token: sup)
            #expect((page.json["cases"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } == [c, d])
            // A new message on the answered case waits again, from its own time.
            _ = try await Self.post(client, f, "again", user: "UE", at: "2026-11-22T09:30:00.000+09:00")
            let again = try await client.call(.get, "/v1/cases?status=open", token: sup)
            let row = (again.json["cases"] as? [[String: Any]] ?? []).first { $0["id"] as? String == e }
            #expect(row?["waiting_since"] as? String == "2026-11-22T00:30:00.000Z")
            // With no reopen window, closing a's case and writing again makes a second case of the same person:
            // one repeat contact.
            try await f.vault.setReopenWindow(desk: "ijime", days: 0, caller: .cli())
            #expect(
                try await client.call(.patch, "/v1/cases/\(a)", token: sup, json: ["status": "closed"]).status == .ok)
            let a2 = try await Self.post(client, f, "a2", user: "UA", at: "2026-11-22T10:00:00.000+09:00")
            #expect(a2 != a)
            let after = try await client.call(.get, "/v1/cases?status=open", token: sup)
            let second = (after.json["cases"] as? [[String: Any]] ?? []).first { $0["id"] as? String == a2 }
            #expect(second?["repeat_contacts"] as? Int == 1)
        }
    }

    @Test("keyword triage on plain and LINE ingest raises the risk and flags the case; the word is nowhere on disk")
    func keywords() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await LineWebhookTests.setSecret(f)
        // Words nobody else writes, so a grep of the data directory finds them only if they leaked (the Latin parts are
        // seven letters: three letters turned up by chance in a base64 key file once).
        let imminentWord = "きえてしまいたいＺＸＱＫＷＪＹ"
        let highWord = "ｏｄしたＱＶＷＰＨＦＧ"
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let cou = try await unlockToken(client, f, "cou1")
            // Supervisors only; a counselor is refused (recorded).
            let body: [String: Any] = ["keywords": ["imminent": [imminentWord], "high": [highWord], "medium": []]]
            #expect(try await client.call(.put, "/v1/desks/ijime/triage", token: cou, json: body).status == .forbidden)
            #expect(try await client.call(.get, "/v1/desks/ijime/triage", token: cou).status == .forbidden)
            #expect(try await client.call(.get, "/v1/desks/ijime/triage", token: f.relayToken).status == .forbidden)
            let bad: [Any] = [
                ["keywords": ["imminent": [""]]], ["keywords": ["high": [String(repeating: "あ", count: 40)]]],
                ["keywords": ["high": "word"]], ["keywords": ["medium": (0..<501).map { "w\($0)" }]], ["nothing": 1],
            ]
            for b in bad {
                #expect(
                    try await client.call(.put, "/v1/desks/ijime/triage", token: sup, json: b).status == .badRequest)
            }
            let set = try await client.call(.put, "/v1/desks/ijime/triage", token: sup, json: body)
            #expect(set.status == .ok)
            let read = try await client.call(.get, "/v1/desks/ijime/triage", token: sup)
            #expect((read.json["keywords"] as? [String: Any])?["imminent"] as? [String] == [imminentWord])
            // Plain form: NFKC and case folding (half-width, lower case in the message, full width in the list).
            let plain = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("昨日ODしたqvwphfgの", user: "UP1"))
            let plainCase = try #require(plain.json["case_id"] as? String)
            let quiet = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("こんにちは", user: "UP2"))
            let quietCase = try #require(quiet.json["case_id"] as? String)
            // LINE form.
            let event = LINE.message(
                "01HZZZKEYWORD000000000001",
                #"{"type":"text","id":"468789577898262999","quoteToken":"q","text":"もうきえてしまいたいZXQKWJYです"}"#)
            let lineBody = LINE.body([event])
            let hook = try await LineWebhookTests.post(client, f, lineBody, signature: try LINE.sign(lineBody))
            #expect(hook.status == .ok)
            let list = try await client.call(.get, "/v1/cases?status=open", token: sup)
            let cases = try #require(list.json["cases"] as? [[String: Any]])
            let byID = Dictionary(uniqueKeysWithValues: cases.map { ($0["id"] as! String, $0) })
            #expect(byID[plainCase]?["risk"] as? String == "high")
            #expect((byID[plainCase]?["flags"] as? [String])?.contains("keyword") == true)
            #expect(byID[quietCase]?["risk"] as? String == "none")
            #expect((byID[quietCase]?["flags"] as? [String])?.contains("keyword") == false)
            // The LINE message matched the imminent list (full-width ＺＸＱＫＷＪＹ in the list, ZXQKWJY in the text): first.
            let lineCase = try #require(cases.first)
            #expect(lineCase["risk"] as? String == "imminent")
            #expect((lineCase["flags"] as? [String])?.contains("keyword") == true)
            // The words are nowhere in the data directory (database, WAL, keys, checkpoints), in any normal form.
            let needles = [imminentWord, highWord, "ZXQKWJY", "zxqkwjy", "QVWPHFG", "qvwphfg", "しまいたい"].flatMap {
                [
                    $0, $0.precomposedStringWithCompatibilityMapping,
                    $0.precomposedStringWithCompatibilityMapping.lowercased(),
                ]
            }
            for (path, data) in try f.allBytes() {
                for needle in Set(needles) {
                    #expect(data.range(of: Data(needle.utf8)) == nil, "\(path) holds a keyword")
                }
            }
            // Nor in the access log's targets.
            let entries = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
            #expect(entries.allSatisfy { !$0.target.contains("ZXQKWJY") && !$0.target.contains("しまい") })
            #expect(entries.contains { $0.action == "triage.change" && $0.actor == "sup" })
        }
    }

    @Test("the relay-sealed form's triage hint raises the case's risk; a bad hint is refused with nothing stored")
    func sealedHint() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let route = try await f.vault.routeIntake(desk: "ijime", channelUser: "UHINT", relay: f.relay, requestID: "r")
        @Sendable func sealedBody(_ hint: Any?) throws -> [String: Any] {
            let mid = ID.v7(milliseconds: 1_795_000_000_000 + Int64.random(in: 0..<1_000_000))
            let envelope = try Envelope.seal(
                plaintext: Plaintext.text("hint"), messageID: mid, caseID: route.caseID,
                epochPublicKey: route.publicKey, direction: "inbound", kind: "text", author: "channel",
                sentAt: 1_795_000_000_000)
            var body: [String: Any] = [
                "desk": "ijime", "channel": "line", "channel_user": "UHINT", "external_id": "ext-\(ID.v4())",
                "case_id": route.caseID.description,
                "sealed": [
                    "message_id": mid.description, "key_id": Hex.string(route.keyID),
                    "sent_at": "2026-11-22T09:00:00.000+09:00", "kind": "text",
                    "body": Data(envelope.body).base64EncodedString(), "key": Data(envelope.key).base64EncodedString(),
                ],
            ]
            if let hint { body["triage"] = hint }
            return body
        }
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let before = try await f.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM messages") }
            #expect(
                try await client.call(.post, "/v1/messages", token: f.relayToken, json: sealedBody("urgent")).status
                    == .badRequest)
            #expect(
                try await client.call(.post, "/v1/messages", token: f.relayToken, json: sealedBody(3)).status
                    == .badRequest)
            let after = try await f.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM messages") }
            #expect(before == after)
            let ok = try await client.call(.post, "/v1/messages", token: f.relayToken, json: sealedBody("high"))
            #expect(ok.status == .created)
            let risk = { () async throws -> String? in
                let list = try await client.call(.get, "/v1/cases?status=open", token: sup)
                return (list.json["cases"] as? [[String: Any]])?.first {
                    $0["id"] as? String == route.caseID.description
                }?[
                    "risk"] as? String
            }
            #expect(try await risk() == "high")
            // A lower hint never lowers it.
            #expect(
                try await client.call(.post, "/v1/messages", token: f.relayToken, json: sealedBody("medium")).status
                    == .created)
            #expect(try await risk() == "high")
        }
    }

    @Test("a database writer can neither forge nor move a sealed desk setting (keyword lists, reopen window)")
    func sealedSettingsResistTampering() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let sup = try await f.unlock("sup")
        let sup2 = try await f.unlock("sup2")
        try await f.vault.setTriageKeywords(
            TriageKeywords(imminent: ["しにたい"]), desk: "ijime", as: sup, requestID: "t")
        try await f.vault.setReopenWindow(desk: "ijime", days: 7, caller: .cli())
        let (ijime, gyakutai) = try await f.vault.database.read { db in
            (
                try Data.fetchOne(db, sql: "SELECT id FROM desks WHERE name = 'ijime'")!,
                try Data.fetchOne(db, sql: "SELECT id FROM desks WHERE name = 'gyakutai'")!
            )
        }
        #expect(
            try await f.vault.database.read { try f.vault.reopenWindowDays($0, deskID: ID(bytes: Array(ijime))!) } == 7)
        // Moved to another desk: refused.
        try await f.vault.database.writer.write { db in
            try db.execute(
                sql: "INSERT INTO desk_triage SELECT ?, keywords_box, updated_at FROM desk_triage WHERE desk_id = ?",
                arguments: [gyakutai, ijime])
            try db.execute(
                sql: "INSERT INTO desk_settings SELECT ?, reopen_box FROM desk_settings WHERE desk_id = ?",
                arguments: [gyakutai, ijime])
        }
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.triageKeywords(desk: "gyakutai", as: sup2, requestID: "r")
        }
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.database.read {
                try f.vault.reopenWindowDays($0, deskID: ID(bytes: Array(gyakutai))!)
            }
        }
        // Written without the vault's box key: refused.
        try await f.vault.database.writer.write { db in
            try db.execute(
                sql: "UPDATE desk_settings SET reopen_box = randomblob(80) WHERE desk_id = ?", arguments: [ijime])
        }
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.database.read { try f.vault.reopenWindowDays($0, deskID: ID(bytes: Array(ijime))!) }
        }
    }
}
