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

/// Issue 17: automatic messages fire exactly once per trigger, across restarts, and never outside their rule.
@Suite struct AutoReplyTests {
    /// 2026-11-18T00:00:00+09:00 (a Wednesday).
    static let day0: Int64 = 1_794_927_600_000
    static func at(day: Int = 0, _ hour: Int, _ minute: Int = 0) -> Int64 {
        day0 + Int64(day) * 86_400_000 + Int64(hour) * 3_600_000 + Int64(minute) * 60_000
    }

    /// The automatic messages in the outbox, opened with the relay's key: (text, to), oldest first.
    static func sent(_ vault: Vault, relayKey: BoxKeyPair) async throws -> [(text: String, to: String)] {
        let boxes = try await vault.database.read { db in
            try Data.fetchAll(
                db,
                sql: """
                    SELECT o.box FROM outbox o JOIN messages m ON m.id = o.message_id
                    WHERE m.author = ? ORDER BY o.created_at, o.id
                    """, arguments: [Vault.automaticAuthor])
        }
        return try boxes.map { box in
            let opened = try SealedBox.open(Array(box), with: relayKey)
            let o = try opened.withUnsafeBytes { try JSONSerialization.jsonObject(with: Data($0)) as! [String: String] }
            return (o["text"]!, o["to"]!)
        }
    }

    static func systemEntries(_ vault: Vault) async throws -> Int {
        try await vault.database.read { db in
            try AuditLog.entries(in: db, limit: 100_000).filter { $0.actor == "system" && $0.action == "reply.write" }
                .count
        }
    }

    @Test("welcome, out-of-hours and busy: once per trigger, across a restart, only under their rule")
    func autoReplies() async throws {
        let clock = ManualClock(start: Self.at(9))
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let sup = try await f.unlock("sup")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k")
        try await LineWebhookTests.setSecret(f)
        @Sendable func clockTo(_ t: Int64) { clock.advance(seconds: (t - clock.milliseconds) / 1000) }
        @Sendable func post(_ client: some TestClientProtocol, _ text: String, user: String, at t: Int64) async throws {
            clockTo(t)
            var body = message(text, user: user)
            body["sent_at"] = Timestamp.format(t)
            let r = try await client.call(.post, "/v1/messages", token: f.relayToken, json: body)
            #expect(r.status == .created)
        }
        @Sendable func follow(_ client: some TestClientProtocol, id: String, user: String, at t: Int64) async throws {
            clockTo(t)
            let body = LINE.body([
                LINE.event("follow", id: id, extra: "", source: #"{"type":"user","userId":"\#(user)"}"#)
            ])
            let r = try await LineWebhookTests.post(client, f, body, signature: try LINE.sign(body))
            #expect(r.status == .ok)
        }
        try await makeApp(f).test(.router) { client in
            let everyDay = Dictionary(
                uniqueKeysWithValues: AutoReplySettings.weekdays.map { ($0, [["09:00", "17:00"]]) })
            let settings: [String: Any] = [
                "timezone": "Asia/Tokyo", "hours": everyDay, "closed_dates": ["2026-11-19"], "welcome": "ようこそ",
                "out_of_hours": "時間外です", "busy": ["after_minutes": 10, "text": "混み合っています"],
            ]
            let supToken = try await unlockToken(client, f, "sup")
            let couToken = try await unlockToken(client, f, "cou1")
            // Settings: supervisors set them (recorded), members read them; bad settings are 400.
            #expect(
                try await client.call(.put, "/v1/desks/ijime/auto-replies", token: couToken, json: settings).status
                    == .forbidden)
            for bad: [String: Any] in [
                ["timezone": "Mars/Olympus"], ["hours": ["mon": [["17:00", "09:00"]]]], ["hours": ["xyz": []]],
                ["hours": ["mon": [["9", "17"]]]], ["closed_dates": ["2026-02-30"]], ["welcome": 5],
                ["busy": ["after_minutes": 0, "text": "x"]], ["busy": ["text": "x"]], ["welcome": ""], ["other": 1],
            ] {
                let r = try await client.call(.put, "/v1/desks/ijime/auto-replies", token: supToken, json: bad)
                #expect(r.status == .badRequest, "\(bad)")
            }
            let set = try await client.call(.put, "/v1/desks/ijime/auto-replies", token: supToken, json: settings)
            #expect(set.status == .ok)
            let read = try await client.call(.get, "/v1/desks/ijime/auto-replies", token: couToken)
            #expect(read.json["welcome"] as? String == "ようこそ")
            #expect((read.json["busy"] as? [String: Any])?["after_minutes"] as? Int == 10)
            #expect(
                try await client.call(.get, "/v1/desks/ijime/auto-replies", token: f.relayToken).status == .forbidden)

            // 10:00, open: a follow gets the welcome, and only the welcome.
            try await follow(client, id: "01FOLLOW000000000000000001", user: LINE.user, at: Self.at(10))
            #expect(try await Self.sent(f.vault, relayKey: relayKey).map(\.text) == ["ようこそ"])
            #expect(try await Self.sent(f.vault, relayKey: relayKey).first?.to == LINE.user)
            // The same follow event redelivered: nothing more.
            try await follow(client, id: "01FOLLOW000000000000000001", user: LINE.user, at: Self.at(10, 1))
            #expect(try await Self.sent(f.vault, relayKey: relayKey).count == 1)

            // 10:02, open: a message; no out-of-hours; busy only once it has waited 10 minutes.
            try await post(client, "こんにちは", user: "UBUSY", at: Self.at(10, 2))
            clockTo(Self.at(10, 11))
            #expect(try await f.vault.sendDueBusyMessages() == 0)
            try await post(client, "まだですか", user: "UBUSY", at: Self.at(10, 11))
            clockTo(Self.at(10, 12))
            #expect(try await f.vault.sendDueBusyMessages() == 1)
            #expect(try await f.vault.sendDueBusyMessages() == 0)
            #expect(try await Self.sent(f.vault, relayKey: relayKey).map(\.text) == ["ようこそ", "混み合っています"])
            #expect(try await Self.sent(f.vault, relayKey: relayKey).last?.to == "UBUSY")
            // The automatic message does not end the wait, and the same spell never gets a second one.
            // (A fresh session: the manual clock has moved past the first one's idle expiry.)
            let listToken = try await unlockToken(client, f, "sup")
            let cases = try await client.call(.get, "/v1/cases?status=open", token: listToken)
            let busyCase = try #require(
                (cases.json["cases"] as? [[String: Any]])?.first { $0["waiting_since"] as? String != nil })
            #expect(busyCase["waiting_since"] as? String == Timestamp.format(Self.at(10, 2)))
            try await post(client, "もしもし", user: "UBUSY", at: Self.at(10, 20))
            clockTo(Self.at(10, 40))
            #expect(try await f.vault.sendDueBusyMessages() == 0)
            // A staff reply ends the spell; the next message starts a new one, which gets its own busy message.
            let caseID = try #require(ID(busyCase["id"] as! String))
            _ = try await f.vault.queueReply(caseID: caseID, text: "お待たせしました", as: sup, requestID: "r")
            try await post(client, "ありがとう", user: "UBUSY", at: Self.at(10, 45))
            clockTo(Self.at(10, 56))
            #expect(try await f.vault.sendDueBusyMessages() == 1)

            // Out of hours (20:00): once per closed period per case; the closed date 11-19 is the same period.
            try await post(client, "夜分にすみません", user: "UNIGHT", at: Self.at(20))
            try await post(client, "もう一度", user: "UNIGHT", at: Self.at(21))
            try await post(client, "祝日です", user: "UNIGHT", at: Self.at(day: 1, 11))
            // Open again (11-20 10:00): nothing; closed again (11-20 18:00): a new period.
            try await post(client, "朝です", user: "UNIGHT", at: Self.at(day: 2, 10))
            try await post(client, "夕方です", user: "UNIGHT", at: Self.at(day: 2, 18))
            // A follow outside hours gets the welcome only.
            try await follow(
                client, id: "01FOLLOW000000000000000002", user: "Uffff0000000000000000000000000000",
                at: Self.at(day: 2, 22))
        }
        let texts = try await Self.sent(f.vault, relayKey: relayKey).map(\.text)
        #expect(texts == ["ようこそ", "混み合っています", "混み合っています", "時間外です", "時間外です", "ようこそ"])
        #expect(try await Self.systemEntries(f.vault) == texts.count)
        // Restart: nothing is sent again (the busy messages still pending belong to spells already answered or
        // not yet due, and each trigger is claimed once).
        let reopened = try Vault.open(at: f.directory, clock: clock.clock)
        clockTo(Self.at(day: 2, 23))
        let afterRestart = try await reopened.sendDueBusyMessages()
        // Only UNIGHT's spell (waiting since 11-18 20:00, never answered) is due: its one busy message.
        #expect(afterRestart == 1)
        #expect(try await reopened.sendDueBusyMessages() == 0)
        let again = try Vault.open(at: f.directory, clock: clock.clock)
        #expect(try await again.sendDueBusyMessages() == 0)
        #expect(try await Self.sent(again, relayKey: relayKey).count == texts.count + 1)
        #expect(try await Self.systemEntries(again) == texts.count + 1)
        // The settings are sealed: their texts are nowhere in the data directory.
        for (path, data) in try f.allBytes() {
            #expect(data.range(of: Data("混み合っています".utf8)) == nil, "\(path)")
        }
    }
}
