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

/// Issue 17: statistics on a seeded desk, every figure checked against a count computed here from the raw rows,
/// and the suppression rule.
@Suite struct StatisticsTests {
    /// 2026-11-18T00:00:00+09:00.
    static let day0: Int64 = 1_794_927_600_000
    static let dayMs: Int64 = 86_400_000

    /// A deterministic generator (SplitMix64), so the seeded desk is the same on every run.
    struct Seeded {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
    }

    /// Seeds desk ijime over three JST days: people write, the supervisor answers some, closes some, records some.
    /// - Returns: the times at which a person wrote to their closed case (routing reopens it).
    @discardableResult
    static func seed(_ f: Fixture, _ clock: ManualClock) async throws -> [Int64] {
        var closedPeople = Set<String>()
        var reopens: [Int64] = []
        let relayKey = try BoxKeyPair.generate()
        let sup = try await f.unlock("sup")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k")
        var rng = Seeded(state: 17)
        let categories = ["bullying", "family", "friends", "suicidal"]
        let ages = ["junior_high", "high_school", "elementary"]
        var t = day0 + 3_600_000  // 01:00 JST
        var n = 0
        while t < day0 + 3 * dayMs - 3_600_000 {
            t += Int64(rng.next(90) + 10) * 60_000
            clock.advance(seconds: (t - clock.milliseconds) / 1000)
            let person = "UPERSON\(rng.next(14))"
            if closedPeople.remove(person) != nil { reopens.append(t) }
            n += 1
            let stored = try await f.vault.ingest(
                InboundText(
                    desk: "ijime", channel: "line", channelUser: person, externalID: "seed-\(n)", sentAt: t,
                    text: "相談 \(n)"), relay: f.relay, requestID: "s\(n)")
            let roll = rng.next(10)
            if roll < 5 {
                clock.advance(seconds: Int64(rng.next(1200) + 1))
                _ = try await f.vault.queueReply(caseID: stored.caseID, text: "返信", as: sup, requestID: "r\(n)")
                t = clock.milliseconds
            }
            if roll < 3 {
                if rng.next(3) > 0 {
                    var record = CaseRecordInput(
                        categories: [categories[rng.next(4)]], ageBand: rng.next(4) == 0 ? nil : ages[rng.next(3)],
                        gender: ["female", "male", nil][rng.next(3)], outcome: "concluded",
                        referrals: rng.next(4) == 0 ? ["police"] : [])
                    if rng.next(3) == 0 { record.categories.append("school_refusal") }
                    _ = try await f.vault.writeCaseRecord(record, caseID: stored.caseID, as: sup, requestID: "w\(n)")
                }
                clock.advance(seconds: 60)
                try await f.vault.updateCase(stored.caseID, CaseUpdate(status: "closed"), as: sup, requestID: "c\(n)")
                closedPeople.insert(person)
                t = clock.milliseconds
            }
        }
        return reopens
    }

    /// The figures of each JST day, computed here from the raw rows in the simplest way (sets and filters).
    struct Expected: Sendable {
        var contacts = 0
        var handled = 0
        var messagesIn = 0
        var messagesOut = 0
        var newCases = 0
        var reopenedCases = 0
        var recordsMissing = 0
        var byHour: [Int] = []
        var byCategory: [String: Int] = [:]
        var byAgeBand: [String: Int] = [:]
    }

    static func independent(_ f: Fixture, reopens: [Int64]) async throws -> [String: Expected] {
        try await f.vault.database.read { db in
            let messages = try Row.fetchAll(
                db, sql: "SELECT case_id, direction, author, sent_at FROM messages WHERE direction <> 'note'")
            let cases = try Row.fetchAll(db, sql: "SELECT id, routing_id, opened_at, closed_at, status FROM cases")
            let records = try Row.fetchAll(db, sql: "SELECT case_id, age_band, gender FROM case_records")
            let codes = try Row.fetchAll(db, sql: "SELECT case_id, kind, code FROM case_record_codes")
            var out: [String: Expected] = [:]
            var jst = Calendar(identifier: .gregorian)
            jst.timeZone = TimeZone(identifier: "Asia/Tokyo")!
            for d in 0..<3 {
                let lo = day0 + Int64(d) * dayMs
                let hi = lo + dayMs
                let label = "2026-11-\(18 + d)"
                let inDay = messages.filter { ($0["sent_at"] as Int64) >= lo && ($0["sent_at"] as Int64) < hi }
                let inbound = inDay.filter { $0["direction"] as String == "inbound" }
                let staff = messages.filter {
                    $0["direction"] as String == "outbound" && $0["author"] as String != Vault.automaticAuthor
                        && ($0["sent_at"] as Int64) >= day0 && ($0["sent_at"] as Int64) < day0 + 3 * dayMs
                }
                let contacts = Set(inbound.map { $0["case_id"] as Data })
                var handled = 0
                var byHour = [Int](repeating: 0, count: 24)
                for c in contacts {
                    let first = inbound.filter { $0["case_id"] as Data == c }.map { $0["sent_at"] as Int64 }.min()!
                    if staff.contains(where: { $0["case_id"] as Data == c && ($0["sent_at"] as Int64) >= first }) {
                        handled += 1
                    }
                    byHour[jst.component(.hour, from: Date(timeIntervalSince1970: Double(first) / 1000))] += 1
                }
                let opened = cases.filter { ($0["opened_at"] as Int64) >= lo && ($0["opened_at"] as Int64) < hi }
                let reopened = reopens.filter { $0 >= lo && $0 < hi }
                let closed = cases.filter {
                    $0["status"] as String == "closed" && ($0["closed_at"] as Int64) >= lo
                        && ($0["closed_at"] as Int64) < hi
                }
                let recorded = Set(records.map { $0["case_id"] as Data })
                var byCategory: [String: Int] = [:]
                var byAge: [String: Int] = [:]
                for c in contacts {
                    for k in codes where k["case_id"] as Data == c && k["kind"] as String == "category" {
                        byCategory[k["code"] as String, default: 0] += 1
                    }
                    let age = records.first { $0["case_id"] as Data == c }.flatMap { $0["age_band"] as String? }
                    byAge[age ?? "unknown", default: 0] += 1
                }
                out[label] = Expected(
                    contacts: contacts.count, handled: handled, messagesIn: inbound.count,
                    messagesOut: inDay.filter {
                        $0["direction"] as String == "outbound" && $0["author"] as String != Vault.automaticAuthor
                    }.count,
                    newCases: opened.count, reopenedCases: reopened.count,
                    recordsMissing: closed.filter { !recorded.contains($0["id"] as Data) }.count,
                    byHour: byHour, byCategory: byCategory, byAgeBand: byAge)
            }
            return out
        }
    }

    static func published(_ n: Int) -> Any { (1...2).contains(n) ? "<3" : n }

    @Test("every figure of a seeded desk matches an independent count; the API publishes them suppressed")
    func seededDesk() async throws {
        let clock = ManualClock(start: Self.day0)
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        let reopens = try await Self.seed(f, clock)
        let expected = try await Self.independent(f, reopens: reopens)
        #expect(!reopens.isEmpty, "the seed should reopen some cases")
        let sup = try await f.unlock("sup")
        let raw = try await f.vault.statistics(
            desk: "ijime", from: "2026-11-18", to: "2026-11-20", group: .day, as: sup, requestID: "st")
        #expect(raw.buckets.map(\.start) == ["2026-11-18", "2026-11-19", "2026-11-20"])
        // Over the whole period a case counts once, however many days it wrote on.
        let total = try await f.vault.database.read { db in
            try Int.fetchOne(
                db,
                sql:
                    "SELECT count(DISTINCT case_id) FROM messages WHERE direction = 'inbound' AND sent_at >= ? AND sent_at < ?",
                arguments: [Self.day0, Self.day0 + 3 * Self.dayMs]) ?? 0
        }
        for b in raw.buckets {
            let e = try #require(expected[b.start])
            #expect(b.contacts == e.contacts, "\(b.start)")
            #expect(b.handled == e.handled, "\(b.start)")
            #expect(b.messagesIn == e.messagesIn, "\(b.start)")
            #expect(b.messagesOut == e.messagesOut, "\(b.start)")
            #expect(b.newCases == e.newCases, "\(b.start)")
            #expect(b.reopenedCases == e.reopenedCases, "\(b.start)")
            #expect(b.recordsMissing == e.recordsMissing, "\(b.start)")
            #expect(b.byHour == e.byHour, "\(b.start)")
            #expect(b.byCategory.filter { $0.value > 0 } == e.byCategory, "\(b.start)")
            #expect(b.byAgeBand.filter { $0.value > 0 } == e.byAgeBand, "\(b.start)")
            #expect(b.byWeekday.reduce(0, +) == b.contacts)
            #expect(b.byGender.values.reduce(0, +) == b.contacts)
            #expect(b.byOutcome.values.reduce(0, +) == b.contacts)
            #expect(b.firstResponses.count == b.handled)
        }
        #expect(raw.buckets.reduce(0) { $0 + $1.contacts } > 20, "the seed produced too few contacts to test anything")
        #expect(total > 3)
        // Over HTTP: the same figures, suppressed; recorded as statistics.read.
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "sup")
            let r = try await client.call(
                .get, "/v1/desks/ijime/statistics?from=2026-11-18&to=2026-11-20&group=day", token: token)
            #expect(r.status == .ok)
            #expect(r.json["suppressed_below"] as? Int == 3)
            let buckets = try #require(r.json["buckets"] as? [[String: Any]])
            #expect(buckets.count == 3)
            for (b, rawBucket) in zip(buckets, raw.buckets) {
                let published = PublishedBucket(rawBucket)
                #expect(b["contacts"] as? NSObject == published.contacts.jsonValue as? NSObject)
                #expect("\(b["contacts"]!)" == "\(Self.published(rawBucket.contacts))")
                #expect("\(b["messages_in"]!)" == "\(Self.published(rawBucket.messagesIn))")
                #expect((b["by_hour"] as? [Any])?.count == 24)
                #expect((b["by_weekday"] as? [Any])?.count == 7)
                // Weekday: 2026-11-18 is a Wednesday (index 2, Monday first).
                if rawBucket.start == "2026-11-18" {
                    #expect(rawBucket.byWeekday[2] == rawBucket.contacts)
                }
            }
            let entries = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
            #expect(entries.last?.action == "statistics.read" && entries.last?.actor == "sup")
            // Auditors read statistics too; counselors, admins, other desks' supervisors and relays do not.
            let aud = try await unlockToken(client, f, "aud")
            let path = "/v1/desks/ijime/statistics?from=2026-11-18&to=2026-11-20"
            #expect(try await client.call(.get, path, token: aud).status == .ok)
            for who in ["cou1", "adm", "sup2", "relay"] {
                let token = who == "relay" ? f.relayToken : try await unlockToken(client, f, who)
                #expect(try await client.call(.get, path, token: token).status == .forbidden, "\(who)")
                let last = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }.last
                #expect(last?.outcome == .denied && last?.action == "statistics.read", "\(who)")
            }
            // Bad input.
            #expect(try await client.call(.get, path).status == .unauthorized)
            for bad in [
                "from=2026-11-20&to=2026-11-18", "from=2026-13-01&to=2026-13-02", "from=yesterday&to=2026-11-18",
                "to=2026-11-18", "from=2026-11-18&to=2026-11-18&group=year", "from=2020-01-01&to=2026-11-18",
            ] {
                let r = try await client.call(.get, "/v1/desks/ijime/statistics?\(bad)", token: token)
                #expect(r.status == .badRequest, "\(bad)")
            }
            #expect(
                try await client.call(.get, "/v1/desks/nodesk/statistics?from=2026-11-18&to=2026-11-18", token: aud)
                    .status == .notFound)
            // Weeks and months bucket by the ISO week's Monday and the month's first day.
            let weeks = try await client.call(.get, path + "&group=week", token: token)
            #expect(
                (weeks.json["buckets"] as? [[String: Any]])?.compactMap { $0["start"] as? String } == ["2026-11-16"])
            let month = try await client.call(.get, path + "&group=month", token: token)
            let monthBucket = try #require((month.json["buckets"] as? [[String: Any]])?.first)
            #expect(monthBucket["start"] as? String == "2026-11-01")
            #expect("\(monthBucket["contacts"]!)" == "\(Self.published(total))")
        }
    }

    @Test("suppression: 1 and 2 become <3, a lone hidden cell takes the next smallest with it; none is recoverable")
    func suppressionRule() {
        #expect(Suppression.breakdown([0, 5, 7]) == [.count(0), .count(5), .count(7)])
        #expect(Suppression.breakdown([1, 5, 7]) == [.suppressed, .suppressed, .count(7)])
        #expect(Suppression.breakdown([2, 1, 9]) == [.suppressed, .suppressed, .count(9)])
        #expect(Suppression.breakdown([2, 0, 0]) == [.suppressed, .count(0), .count(0)])
        #expect(Suppression.cell(0) == .count(0) && Suppression.cell(3) == .count(3))
        // Exhaustively over small breakdowns: with the total published, a hidden cell can never be solved for
        // (the hidden cells are never exactly one, unless the total is itself hidden).
        for a in 0...6 {
            for b in 0...6 {
                for c in 0...6 {
                    let cells = [a, b, c]
                    let total = a + b + c
                    let out = Suppression.breakdown(cells)
                    let hidden = out.filter { $0 == .suppressed }.count
                    if Suppression.cell(total) != .suppressed {
                        #expect(hidden != 1, "\(cells)")
                    }
                    for (i, p) in out.enumerated() where (1...2).contains(cells[i]) { #expect(p == .suppressed) }
                }
            }
        }
        #expect(Suppression.percentile([5, 1], 0.5) == nil)
        #expect(Suppression.percentile([1, 2, 3, 4], 0.5) == 2)
        #expect(Suppression.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9)
    }

    @Test("published JSON: handled and unanswered protect each other; no suppressed cell follows from contacts")
    func publishedProtection() throws {
        var b = StatisticsBucket(start: "2026-11-18")
        b.contacts = 10
        b.handled = 9
        b.byAgeBand = ["junior_high": 8, "unknown": 2, "high_school": 0]
        b.byHour[3] = 1
        b.byHour[4] = 9
        let p = PublishedBucket(b)
        #expect(p.contacts == .count(10))
        #expect(p.handled == .suppressed && p.unanswered == .suppressed)
        #expect(p.byAgeBand["unknown"] == .suppressed && p.byAgeBand["junior_high"] == .suppressed)
        #expect(p.byAgeBand["high_school"] == .count(0))
        #expect(p.byHour[3] == .suppressed && p.byHour[4] == .suppressed)
    }
}
