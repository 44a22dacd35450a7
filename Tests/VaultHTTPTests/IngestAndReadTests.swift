import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct IngestAndReadTests {
    @Test("a relay message round-trips over a real socket to an unlocked counselor (Japanese, emoji, 64 KiB)")
    func roundTripLive() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let text = "学校でいじめられています。😭🆘 " + String(repeating: "つらい", count: 64 * 1024 / 9)
        try await makeApp(f).test(.live) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message(text))
            #expect(posted.status == .created)
            #expect(posted.json["duplicate"] as? Bool == false)
            #expect(posted.headers[HTTPField.Name("X-Request-Id")!] != nil)
            let caseID = try #require(posted.json["case_id"] as? String)
            let token = try await unlockToken(client, f, "cou1")
            let listed = try await client.call(.get, "/v1/cases?desk=ijime", token: token)
            #expect(listed.status == .ok)
            let cases = try #require(listed.json["cases"] as? [[String: Any]])
            #expect(cases.first?["id"] as? String == caseID)
            #expect(cases.first?["unread"] as? Int == 1)
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            #expect(read.status == .ok)
            #expect(read.headers[.cacheControl] == "no-store")
            let messages = try #require(read.json["messages"] as? [[String: Any]])
            #expect(messages.count == 1)
            #expect(messages.first?["text"] as? String == text)
            #expect(messages.first?["direction"] as? String == "inbound")
            #expect(messages.first?["sent_at"] as? String == "2026-11-22T00:00:00.123Z")
        }
    }

    @Test("canary: after ingest no byte under the data dir holds the text or the channel user id")
    func canary() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let canary = "CANARY-\(ID.v4())-いじめ"
        let user = "Ucanary\(ID.v4().bytes.hex)"
        try await makeApp(f).test(.router) { client in
            for i in 0..<20 {
                let r = try await client.call(
                    .post, "/v1/messages", token: f.relayToken, json: message("\(canary) #\(i)", user: user))
                #expect(r.status == .created)
            }
            let token = try await unlockToken(client, f, "cou1")
            let caseID = try #require(
                (try await client.call(.get, "/v1/cases", token: token).json["cases"] as? [[String: Any]])?.first?["id"]
                    as? String)
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            #expect((read.json["messages"] as? [[String: Any]])?.count == 20)
        }
        let files = try f.allBytes()
        #expect(files.contains { $0.0.hasSuffix("vault.sqlite-wal") || $0.0.hasSuffix("vault.sqlite") })
        for (path, data) in files {
            #expect(data.range(of: Data(canary.utf8)) == nil, "canary found in \(path)")
            #expect(data.range(of: Data("CANARY".utf8)) == nil, "canary prefix found in \(path)")
            #expect(data.range(of: Data(user.utf8)) == nil, "channel user id found in \(path)")
        }
    }

    @Test("a counselor of another desk gets 403 and no content; the denial is recorded")
    func otherDeskForbidden() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("ひみつ"))
            let caseID = try #require(posted.json["case_id"] as? String)
            let token = try await unlockToken(client, f, "cou2")
            let r = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            #expect(r.status == .forbidden)
            #expect(r.errorCode == "forbidden")
            #expect(r.body.range(of: Data("ひみつ".utf8)) == nil)
            let list = try await client.call(.get, "/v1/cases", token: token)
            #expect((list.json["cases"] as? [Any])?.isEmpty == true)
            // The relay cannot read back what it wrote.
            let relayRead = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: f.relayToken)
            #expect(relayRead.status == .forbidden)
        }
        let denied = try await f.vault.database.read { db in
            try AuditLog.entries(in: db, after: 0, limit: 10_000).filter { $0.outcome == .denied && $0.actor == "cou2" }
        }
        #expect(denied.count == 1)
    }

    @Test("an unwritable access log fails closed: 503 audit_unavailable and no content")
    func failClosed() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let posted = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("must not leak"))
            let caseID = try #require(posted.json["case_id"] as? String)
            let token = try await unlockToken(client, f, "cou1")
            try await f.vault.database.transaction { db in
                try db.execute(
                    sql:
                        "CREATE TRIGGER block_log BEFORE INSERT ON access_log BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
                )
            }
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            #expect(read.status == .serviceUnavailable)
            #expect(read.errorCode == "audit_unavailable")
            #expect(read.body.range(of: Data("must not leak".utf8)) == nil)
            let write = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("unrecorded"))
            #expect(write.status == .serviceUnavailable)
            let count = try await f.vault.database.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM messages")
            }
            #expect(count == 1)  // the unrecorded write was not stored
        }
    }

    @Test("a restart loses nothing acknowledged and ends every session")
    func restart() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let (acknowledged, oldToken) = try await makeApp(f).test(.live) { client in
            var acknowledged: [String] = []
            for i in 0..<25 {
                let r = try await client.call(
                    .post, "/v1/messages", token: f.relayToken, json: message("msg \(i)", external: "e\(i)"))
                #expect(r.status == .created)
                acknowledged.append(try #require(r.json["message_id"] as? String))
            }
            return (acknowledged, try await unlockToken(client, f, "cou1"))
        }
        // A new process: the same directory opened afresh.
        let reopened = try Vault.open(at: f.directory)
        let app = Application(router: buildRouter(vault: reopened, configuration: ServeConfiguration()))
        try await app.test(.live) { client in
            let stale = try await client.call(.get, "/v1/cases", token: oldToken)
            #expect(stale.status == .unauthorized)
            let token = try await unlockToken(client, f, "cou1")
            let caseID = try #require(
                ((try await client.call(.get, "/v1/cases", token: token)).json["cases"] as? [[String: Any]])?.first?[
                    "id"] as? String)
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages?limit=1000", token: token)
            let ids = (read.json["messages"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            #expect(ids == acknowledged)
            let again = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("dup", external: "e3"))
            #expect(again.status == .ok)
            #expect(again.json["message_id"] as? String == acknowledged[3])
        }
    }

    @Test("assignment over HTTP: a counselor takes a queue case; another counselor then cannot read it")
    func takeCase() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let caseID = try #require(
                (try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("help"))).json[
                    "case_id"]
                    as? String)
            let t1 = try await unlockToken(client, f, "cou1")
            let t4 = try await unlockToken(client, f, "cou4")
            let steal = try await client.call(
                .post, "/v1/cases/\(caseID)/assign", token: t4, json: ["assignee": "cou1"])
            #expect(steal.status == .forbidden)
            let take = try await client.call(.post, "/v1/cases/\(caseID)/assign", token: t1, json: ["assignee": "cou1"])
            #expect(take.status == .ok)
            #expect((try await client.call(.get, "/v1/cases/\(caseID)/messages", token: t4)).status == .forbidden)
            #expect((try await client.call(.get, "/v1/cases/\(caseID)/messages", token: t1)).status == .ok)
            let mine = try await client.call(.get, "/v1/cases?assigned=me", token: t1)
            #expect((mine.json["cases"] as? [[String: Any]])?.first?["assignee"] as? String == "cou1")
            let supToken = try await unlockToken(client, f, "sup")
            let outsider = try await client.call(
                .post, "/v1/cases/\(caseID)/assign", token: supToken, json: ["assignee": "cou2"])
            #expect(outsider.status == .forbidden)
            let handover = try await client.call(
                .post, "/v1/cases/\(caseID)/assign", token: supToken, json: ["assignee": "cou4"])
            #expect(handover.status == .ok)
            #expect((try await client.call(.get, "/v1/cases/\(caseID)/messages", token: t4)).status == .ok)
            #expect((try await client.call(.get, "/v1/cases/\(caseID)/messages", token: t1)).status == .forbidden)
        }
    }

    @Test("enrollment over HTTP, health and readiness")
    func enrollAndService() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let (code, _) = try await f.vault.addUser(username: "newbie", role: .counselor, caller: .cli())
        try await makeApp(f).test(.router) { client in
            let bad = try await client.call(
                .post, "/v1/enroll",
                json: ["username": "newbie", "code": "AAAAA-AAAAA-AAAAA-AAAAA", "passphrase": "long enough pass"])
            #expect(bad.status == .unauthorized)
            let short = try await client.call(
                .post, "/v1/enroll", json: ["username": "newbie", "code": code, "passphrase": "short"])
            #expect(short.status == .badRequest)
            let ok = try await client.call(
                .post, "/v1/enroll", json: ["username": "newbie", "code": code, "passphrase": "long enough pass"])
            #expect(ok.status == .created)
            #expect((ok.json["fingerprint"] as? String)?.count == 39)
            let replay = try await client.call(
                .post, "/v1/enroll", json: ["username": "newbie", "code": code, "passphrase": "long enough pass"])
            #expect(replay.status == .unauthorized)
            #expect((try await client.call(.get, "/healthz")).status == .ok)
            let ready = try await client.call(.get, "/readyz")
            #expect(ready.status == .ok)
            // Desk names go to staff only (anonymous callers get the count).
            #expect(ready.json["desks_without_unlocked_supervisor"] as? [String] == [])
            #expect(ready.json["desks_without_unlocked_supervisor_count"] as? Int == 2)
            let sup = try await unlockToken(client, f, "sup")
            let after = try await client.call(.get, "/readyz", token: sup)
            #expect(after.json["desks_without_unlocked_supervisor"] as? [String] == ["gyakutai"])
        }
    }

    @Test("transcript JSON escapes quotes, backslashes and control characters exactly")
    func escaping() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let tricky = "say \"hi\" \\ back\\slash\n\ttab \u{01}\u{1F} </script> 🙂 \u{2028} end"
        try await makeApp(f).test(.router) { client in
            let caseID = try #require(
                (try await client.call(.post, "/v1/messages", token: f.relayToken, json: message(tricky))).json[
                    "case_id"]
                    as? String)
            let token = try await unlockToken(client, f, "cou1")
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: token)
            let messages = try #require(read.json["messages"] as? [[String: Any]])
            #expect(messages.first?["text"] as? String == tricky)
            #expect(messages.first?["data"] is NSNull)
            #expect(messages.first?["delivery"] is NSNull)
            #expect(messages.first?["seq"] as? Int == 1)
            #expect(messages.first?["retracted"] as? Bool == false)
            // A text with nothing to escape is copied as is (the fast path): its exact bytes, id and time.
            let plain = "いじめの相談です 😢 plain text, no escapes"
            let second = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message(plain))
            let secondID = try #require(second.json["message_id"] as? String)
            let again = try await client.call(.get, "/v1/cases/\(caseID)/messages?after_seq=1", token: token)
            let raw = String(decoding: again.body, as: UTF8.self)
            #expect(raw.contains(#""id":"\#(secondID)""#))
            #expect(raw.contains(#""sent_at":"2026-11-22T00:00:00.123Z""#))
            #expect(raw.contains(#""text":"\#(plain)"}"#))
            let page = try #require(again.json["messages"] as? [[String: Any]])
            #expect(page.map { $0["text"] as? String } == [plain])
        }
    }
}
