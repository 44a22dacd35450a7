import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// The longest period one statistics request covers.
    public static let maxStatisticsDays = 400

    /// A desk's statistics (API.md `GET /v1/desks/{desk}/statistics`), for confirmed supervisors of the desk and
    /// auditors; recorded as `statistics.read` (denials too) before the figures are returned. Computed from a read
    /// transactions (the writer is not held): one ordered pass over the desk's messages in the period (the covering
    /// index `messages_desk_time`) and, at the same time, indexed reads of the desk's records and of the cases opened
    /// and closed in the period.
    /// - Throws: `.invalidRequest` for bad dates; `.notFound`; `.forbidden` (recorded).
    public func statistics(
        desk name: String, from: String, to: String, group: StatisticsGroup, as user: UnlockedUser,
        requestID: String
    ) async throws -> StatisticsReport {
        let caller = user.caller(requestID: requestID)
        let decision: Decision = try await database.read { db in
            guard let desk = try self.desk(db, name: name) else { return .denied(.notFound("no desk \(name)")) }
            if user.role == .auditor { return .allowed }
            return try self.maySupervise(
                db, desk: desk, user, else: "only supervisors of \(name) and auditors read its statistics")
        }
        try await enforce(decision, caller, "statistics.read", "desk:\(name)")
        let plan = try await database.read { db in
            try self.statisticsPlan(db, desk: name, from: from, to: to, group: group)
        }
        // The two halves run at once, each in its own read transaction (the machine's two cores); writes committed
        // between their starts can show in one and not the other, which a period's statistics tolerate (no figure
        // compares the halves; a record changed in between is counted as it then was).
        async let messageFigures = database.read { db in try Self.statisticsMessagePass(db, plan) }
        async let caseFigures = database.read { db in try Self.statisticsCasePass(db, plan) }
        let report = try await Self.assembleStatistics(plan, messages: messageFigures, cases: caseFigures)
        try await database.transaction { db in
            try self.record(db, caller, "statistics.read", "desk:\(name) \(from)..\(to) \(group.rawValue)")
        }
        return report
    }

    /// The desk's time zone for statistics and automatic messages (Asia/Tokyo unless the desk set another).
    func deskTimeZone(_ db: Database, deskID: ID) throws -> TimeZone {
        TimeZone(identifier: "Asia/Tokyo")!
    }

    /// The desk's reopen window in days (`desk set-reopen-window`; otherwise the vault setting, 30 by default): a
    /// person writing within it after their case closed reopens that case (Routing.swift).
    /// - Throws: `.integrity` for a stored window that does not open under the box key or belongs to another desk.
    func reopenWindowDays(_ db: Database, deskID: ID) throws -> Int {
        guard
            let box = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT reopen_box FROM desk_settings WHERE desk_id = ?"),
                arguments: [Data(deskID.bytes)])
        else { return Int(settings.reopenWindowDays) }
        let fields: [[UInt8]]
        do {
            fields = try SecretBox.open(Array(box), key: keys.box).withUnsafeBytes { try Canonical.decode(Array($0)) }
        } catch {
            throw VaultError.integrity("a desk's stored reopen window does not open under the vault's box key")
        }
        guard fields.count == 3, fields[0] == Self.reopenWindowLabel, fields[1] == deskID.bytes, fields[2].count == 8
        else { throw VaultError.integrity("a desk's stored reopen window belongs to another desk") }
        return Int(fields[2].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    static let reopenWindowLabel = Array("consultvault/reopen-window/v1".utf8)

    /// Routing reopened a closed case: counted as `reopened_cases` in the bucket of `now`.
    func noteReopened(_ db: Database, _ c: CaseRow) throws {
        try db.execute(
            sql: "INSERT INTO case_reopens (case_id, desk_id, reopened_at) VALUES (?, ?, ?)",
            arguments: [Data(c.id.bytes), Data(c.deskID.bytes), now()])
    }

    /// The period, its buckets and the desk's taxonomy, checked (see `statistics`).
    func statisticsPlan(_ db: Database, desk name: String, from: String, to: String, group: StatisticsGroup)
        throws -> StatisticsPlan
    {
        guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
        let zone = try deskTimeZone(db, deskID: desk.id)
        let cal = StatisticsCalendar(zone: zone)
        guard let fromMs = cal.startOfDay(from), let toStart = cal.startOfDay(to) else {
            throw VaultError.invalid("`from` and `to` must be dates, YYYY-MM-DD")
        }
        guard
            let toEnd = cal.calendar.date(
                byAdding: .day, value: 1, to: Date(timeIntervalSince1970: Double(toStart) / 1000))
        else { throw VaultError.invalid("`to` is out of range") }
        let toExclusive = Int64((toEnd.timeIntervalSince1970 * 1000).rounded())
        guard fromMs <= toStart else { throw VaultError.invalid("`from` is after `to`") }
        guard toExclusive - fromMs <= Int64(Self.maxStatisticsDays) * 86_400_000 + 3_600_000 else {
            throw VaultError.invalid("a statistics request covers at most \(Self.maxStatisticsDays) days")
        }
        let starts = cal.buckets(from: fromMs, toExclusive: toExclusive, group: group)
        return StatisticsPlan(
            desk: name, deskData: Data(desk.id.bytes), from: from, to: to, group: group, zone: zone,
            taxonomy: try taxonomy(db, deskID: desk.id), fromMs: fromMs, toExclusive: toExclusive,
            bounds: starts.map(\.start), labels: starts.map(\.label))
    }

    /// Pass 1: messages in the period, in time order. Contacts are (bucket, case) pairs; each waits for a staff
    /// reply (at or after its first inbound message in the bucket, within the period).
    /// Per-case state lives in arrays indexed by the case's position in `caseIndex` (no per-message dictionary
    /// beyond the case lookup); the table is sized from the desk's cases active since `from`.
    static func statisticsMessagePass(_ db: Database, _ plan: StatisticsPlan) throws -> StatisticsMessageFigures {
        let bounds = plan.bounds
        var cal = StatisticsCalendar(zone: plan.zone)
        var buckets = plan.labels.map { StatisticsBucket(start: $0) }
        var caseIndex = CaseKeyTable(
            capacity: try Int.fetchOne(
                db,
                sql: "SELECT count(*) FROM cases INDEXED BY cases_activity WHERE desk_id = ? AND last_message_at >= ?",
                arguments: [plan.deskData, plan.fromMs]) ?? 0)
        var caseKeys: [CaseKey] = []
        var contactsByBucket = [[Int32]](repeating: [], count: buckets.count)
        var lastContactBucket: [Int] = []  // per case: the bucket of its latest contact, -1 before the first
        // Contacts not yet answered by staff, a list per case threaded through flat arrays (no array per case):
        // `waitingHead[c]` is the case's first unanswered contact (-1: none), `nextWaiting` links to its next one.
        var waitingHead: [Int32] = []
        var waitingTail: [Int32] = []
        var contactBucket: [Int32] = []
        var contactAt: [Int64] = []
        var nextWaiting: [Int32] = []
        var current = 0
        try forEachRawRow(
            db,
            sql: """
                SELECT case_id, CASE WHEN direction = 'inbound' THEN 1 WHEN author <> ? THEN 2 ELSE 0 END, sent_at
                FROM messages INDEXED BY messages_desk_time
                WHERE desk_id = ? AND sent_at >= ? AND sent_at < ? AND direction IN ('inbound', 'outbound')
                ORDER BY sent_at
                """, arguments: [Self.automaticAuthor, plan.deskData, plan.fromMs, plan.toExclusive]
        ) { row in
            let at = row.int64(2)
            while current + 1 < bounds.count, bounds[current + 1] <= at { current += 1 }
            let kind = row.int64(1)
            guard kind != 0, let key = row.caseKey(0) else { return }
            let (c, inserted) = caseIndex.insert(key)
            if inserted {
                caseKeys.append(key)
                lastContactBucket.append(-1)
                waitingHead.append(-1)
                waitingTail.append(-1)
            }
            if kind == 1 {
                buckets[current].messagesIn += 1
                // Messages come in time order, so a case's first inbound message in a bucket is the one that finds
                // its latest contact in an earlier bucket.
                if lastContactBucket[c] != current {
                    lastContactBucket[c] = current
                    buckets[current].contacts += 1
                    contactsByBucket[current].append(Int32(c))
                    let (hour, weekday) = cal.hourAndWeekday(at)
                    buckets[current].byHour[hour] += 1
                    buckets[current].byWeekday[weekday] += 1
                    let contact = Int32(contactAt.count)
                    contactBucket.append(Int32(current))
                    contactAt.append(at)
                    nextWaiting.append(-1)
                    if waitingTail[c] < 0 {
                        waitingHead[c] = contact
                    } else {
                        nextWaiting[Int(waitingTail[c])] = contact
                    }
                    waitingTail[c] = contact
                }
            } else {
                buckets[current].messagesOut += 1
                var contact = waitingHead[c]
                while contact >= 0 {
                    let b = Int(contactBucket[Int(contact)])
                    buckets[b].handled += 1
                    buckets[b].firstResponses.append((at - contactAt[Int(contact)]) / 1000)
                    contact = nextWaiting[Int(contact)]
                }
                waitingHead[c] = -1
                waitingTail[c] = -1
            }
        }
        return StatisticsMessageFigures(buckets: buckets, caseKeys: caseKeys, contactsByBucket: contactsByBucket)
    }

    /// Passes 2–4: the desk's coded records; cases opened in the period and closed cases routing reopened (the
    /// person wrote again within the reopen window); cases closed in the period, with their duration and whether
    /// they were closed without a record.
    static func statisticsCasePass(_ db: Database, _ plan: StatisticsPlan) throws -> StatisticsCaseFigures {
        var f = StatisticsCaseFigures(buckets: plan.bounds.count)
        let deskData = plan.deskData
        try forEachRawRow(
            db, sql: "SELECT case_id, age_band, gender, outcome FROM case_records WHERE desk_id = ?",
            arguments: [deskData]
        ) { row in
            guard let key = row.caseKey(0) else { return }
            let (r, inserted) = f.records.insert(key)
            guard inserted else { return }
            assert(r == f.ageBand.count)
            f.ageBand.append(row.text(1))
            f.gender.append(row.text(2))
            f.outcome.append(row.text(3))
            f.categories.append([])
            f.referrals.append([])
        }
        try forEachRawRow(
            db, sql: "SELECT case_id, kind = 'category', code FROM case_record_codes WHERE desk_id = ?",
            arguments: [deskData]
        ) { row in
            guard let key = row.caseKey(0), let r = f.records.position(of: key), let code = row.text(2) else { return }
            if row.int64(1) == 1 { f.categories[r].append(code) } else { f.referrals[r].append(code) }
        }
        try forEachRawRow(
            db,
            sql:
                "SELECT opened_at FROM cases INDEXED BY cases_desk_opened WHERE desk_id = ? AND opened_at >= ? AND opened_at < ?",
            arguments: [deskData, plan.fromMs, plan.toExclusive]
        ) { row in
            if let b = plan.bucket(of: row.int64(0)) { f.newCases[b] += 1 }
        }
        try forEachRawRow(
            db, sql: "SELECT reopened_at FROM case_reopens WHERE desk_id = ? AND reopened_at >= ? AND reopened_at < ?",
            arguments: [deskData, plan.fromMs, plan.toExclusive]
        ) { row in
            if let b = plan.bucket(of: row.int64(0)) { f.reopenedCases[b] += 1 }
        }
        try forEachRawRow(
            db,
            sql: """
                SELECT id, opened_at, closed_at FROM cases INDEXED BY cases_desk_closed
                WHERE desk_id = ? AND closed_at >= ? AND closed_at < ? AND status = 'closed'
                """, arguments: [deskData, plan.fromMs, plan.toExclusive]
        ) { row in
            let closedAt = row.int64(2)
            guard let b = plan.bucket(of: closedAt), let key = row.caseKey(0) else { return }
            f.durations[b].append((closedAt - row.int64(1)) / 1000)
            if f.records.position(of: key) == nil { f.recordsMissing[b] += 1 }
        }
        return f
    }

    /// The report from the two halves: each bucket's contacted cases counted by their record's codes.
    static func assembleStatistics(
        _ plan: StatisticsPlan, messages: StatisticsMessageFigures, cases: StatisticsCaseFigures
    ) -> StatisticsReport {
        var buckets = messages.buckets
        let taxonomy = plan.taxonomy
        func zeros(_ items: [TaxonomyItem], unknown: Bool) -> [String: Int] {
            var d = Dictionary(uniqueKeysWithValues: items.filter { !$0.retired }.map { ($0.code, 0) })
            if unknown { d["unknown"] = 0 }
            return d
        }
        for b in buckets.indices {
            buckets[b].byCategory = zeros(taxonomy.categories, unknown: false)
            buckets[b].byReferral = zeros(taxonomy.referrals, unknown: false)
            buckets[b].byAgeBand = zeros(taxonomy.ageBands, unknown: true)
            buckets[b].byGender = zeros(taxonomy.genders, unknown: true)
            buckets[b].byOutcome = zeros(taxonomy.outcomes, unknown: true)
            for c in messages.contactsByBucket[b] {
                guard let r = cases.records.position(of: messages.caseKeys[Int(c)]) else {
                    buckets[b].byAgeBand["unknown", default: 0] += 1
                    buckets[b].byGender["unknown", default: 0] += 1
                    buckets[b].byOutcome["unknown", default: 0] += 1
                    continue
                }
                for code in cases.categories[r] { buckets[b].byCategory[code, default: 0] += 1 }
                for code in cases.referrals[r] { buckets[b].byReferral[code, default: 0] += 1 }
                buckets[b].byAgeBand[cases.ageBand[r] ?? "unknown", default: 0] += 1
                buckets[b].byGender[cases.gender[r] ?? "unknown", default: 0] += 1
                buckets[b].byOutcome[cases.outcome[r] ?? "unknown", default: 0] += 1
            }
            buckets[b].newCases = cases.newCases[b]
            buckets[b].reopenedCases = cases.reopenedCases[b]
            buckets[b].durations = cases.durations[b]
            buckets[b].recordsMissing = cases.recordsMissing[b]
        }

        // Every bucket lists the same cells (a retired code counted in one bucket shows as 0 in the others).
        func align(_ path: WritableKeyPath<StatisticsBucket, [String: Int]>) {
            let keys = Set(buckets.flatMap { $0[keyPath: path].keys })
            for b in buckets.indices {
                for k in keys where buckets[b][keyPath: path][k] == nil { buckets[b][keyPath: path][k] = 0 }
            }
        }
        for path in [\StatisticsBucket.byCategory, \.byReferral, \.byAgeBand, \.byGender, \.byOutcome] { align(path) }
        return StatisticsReport(
            desk: plan.desk, from: plan.from, to: plan.to, group: plan.group, timeZone: plan.zone.identifier,
            taxonomy: taxonomy, buckets: buckets)
    }
}

/// A statistics request checked and laid out: the desk, the period in Unix ms and its buckets' starts.
struct StatisticsPlan: Sendable {
    let desk: String
    let deskData: Data
    let from: String
    let to: String
    let group: StatisticsGroup
    let zone: TimeZone
    let taxonomy: Taxonomy
    let fromMs: Int64
    let toExclusive: Int64
    let bounds: [Int64]
    let labels: [String]

    /// The bucket holding `t`, or nil outside the period.
    func bucket(of t: Int64) -> Int? {
        guard t >= fromMs, t < toExclusive else { return nil }
        var lo = 0
        var hi = bounds.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if bounds[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

/// Pass 1's figures: the buckets' message counts, contacts and first responses, and which cases each bucket's
/// contacts were (positions into `caseKeys`).
struct StatisticsMessageFigures: Sendable {
    var buckets: [StatisticsBucket]
    var caseKeys: [CaseKey]
    var contactsByBucket: [[Int32]]
}

/// Passes 2–4's figures: the desk's records by position in `records`, and the per-bucket case counts.
struct StatisticsCaseFigures: Sendable {
    var records = CaseKeyTable(capacity: 1024)
    var ageBand: [String?] = []
    var gender: [String?] = []
    var outcome: [String?] = []
    var categories: [[String]] = []
    var referrals: [[String]] = []
    var newCases: [Int]
    var reopenedCases: [Int]
    var durations: [[Int64]]
    var recordsMissing: [Int]

    init(buckets: Int) {
        newCases = Array(repeating: 0, count: buckets)
        reopenedCases = newCases
        recordsMissing = newCases
        durations = Array(repeating: [], count: buckets)
    }
}

extension Vault {
    /// Sets a desk's reopen window (`desk set-reopen-window`): a case opened within `days` of the person's previous
    /// case on the desk closing counts as reopened in the statistics. Recorded as `desk.reopen_window`.
    /// - Throws: `.invalidRequest` outside 0–3650; `.notFound`.
    public func setReopenWindow(desk name: String, days: Int, caller: Caller) async throws {
        guard (0...3650).contains(days) else { throw VaultError.invalid("--days must be 0–3650") }
        try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            let plain = Canonical.encode([Self.reopenWindowLabel, desk.id.bytes, Canonical.u64(Int64(days))])
            let box = try SecretBox.seal(try SecretBytes(copying: plain), key: self.keys.box)
            try db.execute(
                sql: """
                    INSERT INTO desk_settings (desk_id, reopen_box) VALUES (?, ?)
                    ON CONFLICT (desk_id) DO UPDATE SET reopen_box = excluded.reopen_box
                    """, arguments: [Data(desk.id.bytes), Data(box)])
            try self.record(db, caller, "desk.reopen_window", "desk:\(name) days:\(days)")
        }
    }
}
