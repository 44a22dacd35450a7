import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Issue 17 on the relay-sealed form: the vault never sees the text, but the automatic messages that need no text
/// (out-of-hours, busy) and the relay's triage hint apply to it as to the plain and LINE forms, in the same write.
@Suite struct SealedIntakeHooksTests {
    static func sealed(
        _ route: IntakeRoute, user: String, external: String, at t: Int64, triage: String? = nil
    ) throws -> SealedInbound {
        let mid = ID.v7(milliseconds: t)
        let envelope = try Envelope.seal(
            plaintext: Plaintext.text("sealed"), messageID: mid, caseID: route.caseID, epochPublicKey: route.publicKey,
            direction: "inbound", kind: "text", author: "channel", sentAt: t)
        return SealedInbound(
            desk: "ijime", channelUser: user, externalID: external, caseID: route.caseID, messageID: mid,
            keyID: route.keyID, sentAt: t, kind: "text", body: envelope.body, key: envelope.key, triage: triage)
    }

    @Test("a sealed message out of hours gets the out-of-hours reply once per closed period, and busy when due")
    func outOfHoursAndBusy() async throws {
        let clock = ManualClock(start: AutoReplyTests.at(20))
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let sup = try await f.unlock("sup")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k")
        let everyDay = Dictionary(uniqueKeysWithValues: AutoReplySettings.weekdays.map { ($0, [["09:00", "17:00"]]) })
        let settings = try AutoReplySettings(
            json: Array(
                try JSONSerialization.data(withJSONObject: [
                    "timezone": "Asia/Tokyo", "hours": everyDay, "out_of_hours": "時間外です",
                    "busy": ["after_minutes": 10, "text": "混み合っています"],
                ])))
        try await f.vault.setAutoReplies(settings, desk: "ijime", as: sup, requestID: "a")
        let route = try await f.vault.routeIntake(desk: "ijime", channelUser: "USEALED", relay: f.relay, requestID: "r")
        // 20:00 and 21:00 (closed): one out-of-hours reply, addressed to the channel user.
        for (i, t) in [AutoReplyTests.at(20), AutoReplyTests.at(21)].enumerated() {
            clock.advance(seconds: (t - clock.milliseconds) / 1000)
            _ = try await f.vault.ingestSealed(
                Self.sealed(route, user: "USEALED", external: "s\(i)", at: t), relay: f.relay, requestID: "i\(i)")
        }
        var sent = try await AutoReplyTests.sent(f.vault, relayKey: relayKey)
        #expect(sent.map(\.text) == ["時間外です"])
        #expect(sent.first?.to == "USEALED")
        // The same envelope redelivered (same external id): no second message.
        _ = try await f.vault.ingestSealed(
            Self.sealed(route, user: "USEALED", external: "s1", at: AutoReplyTests.at(21)), relay: f.relay,
            requestID: "dup")
        // The wait started at 20:00; at 20:10 and later the busy message is due, once.
        #expect(try await f.vault.sendDueBusyMessages() == 1)
        #expect(try await f.vault.sendDueBusyMessages() == 0)
        sent = try await AutoReplyTests.sent(f.vault, relayKey: relayKey)
        #expect(sent.map(\.text) == ["時間外です", "混み合っています"])
        #expect(try await AutoReplyTests.systemEntries(f.vault) == 2)
    }

    @Test("the triage hint raises the risk in the message's own write; a duplicate or a bad hint changes nothing")
    func triageHint() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let route = try await f.vault.routeIntake(desk: "ijime", channelUser: "UHINT2", relay: f.relay, requestID: "r")
        let t: Int64 = 1_795_000_000_000
        func risk() async throws -> String? {
            try await f.vault.database.read {
                try String.fetchOne(
                    $0, sql: "SELECT risk FROM cases WHERE id = ?", arguments: [Data(route.caseID.bytes)])
            }
        }
        func messages() async throws -> Int {
            try await f.vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM messages") ?? 0 }
        }
        let before = try await messages()
        await #expect(throws: VaultError.self) {
            _ = try await f.vault.ingestSealed(
                Self.sealed(route, user: "UHINT2", external: "h0", at: t, triage: "urgent"), relay: f.relay,
                requestID: "bad")
        }
        #expect(try await messages() == before)
        #expect(try await risk() == "none")
        _ = try await f.vault.ingestSealed(
            Self.sealed(route, user: "UHINT2", external: "h1", at: t, triage: "medium"), relay: f.relay, requestID: "1")
        #expect(try await risk() == "medium")
        // A redelivery of h1 carrying a higher hint is the same message: the stored write stands.
        let dup = try await f.vault.ingestSealed(
            Self.sealed(route, user: "UHINT2", external: "h1", at: t + 1, triage: "imminent"), relay: f.relay,
            requestID: "2")
        #expect(dup.duplicate)
        #expect(try await risk() == "medium")
        _ = try await f.vault.ingestSealed(
            Self.sealed(route, user: "UHINT2", external: "h2", at: t + 2, triage: "high"), relay: f.relay,
            requestID: "3")
        #expect(try await risk() == "high")
        #expect(try await messages() == before + 2)
    }
}
