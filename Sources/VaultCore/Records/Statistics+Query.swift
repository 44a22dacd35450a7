import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// The longest period one statistics request covers.
    public static let maxStatisticsDays = 400

    /// A desk's statistics (API.md `GET /v1/desks/{desk}/statistics`), for confirmed supervisors of the desk and
    /// auditors; recorded as `statistics.read` (denials too) before the figures are returned. Computed from a read
    /// snapshot (the writer is not held): one ordered pass over the desk's messages in the period (the covering
    /// index `messages_desk_time`), and indexed reads of the cases opened and closed in it and of the desk's records.
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
        let report = try await database.read { db in
            try self.computeStatistics(db, desk: name, from: from, to: to, group: group)
        }
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

    /// The raw figures (see `statistics`); also used by the CLI, which records its own read.
    func computeStatistics(_ db: Database, desk name: String, from: String, to: String, group: StatisticsGroup)
        throws -> StatisticsReport
    {
        guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
        let zone = try deskTimeZone(db, deskID: desk.id)
        var cal = StatisticsCalendar(zone: zone)
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
        let taxonomy = try taxonomy(db, deskID: desk.id)
        let starts = cal.buckets(from: fromMs, toExclusive: toExclusive, group: group)
        var buckets = starts.map { StatisticsBucket(start: $0.label) }
        let bounds = starts.map(\.start)
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
        let deskData = Data(desk.id.bytes)

        // Pass 1: messages in the period, in time order. Contacts are (bucket, case) pairs; each waits for a staff
        // reply (at or after its first inbound message in the bucket, within the period).
        // Per-case state lives in arrays indexed by the case's position in `caseIndex` (no per-message dictionary
        // beyond the case lookup); the dictionary is sized from the desk's cases active since `from`.
        var caseIndex: [CaseKey: Int] = [:]
        caseIndex.reserveCapacity(
            try Int.fetchOne(
                db,
                sql: "SELECT count(*) FROM cases INDEXED BY cases_activity WHERE desk_id = ? AND last_message_at >= ?",
                arguments: [deskData, fromMs]) ?? 0)
        var contactsByBucket = [[Int]](repeating: [], count: buckets.count)
        var lastContactBucket: [Int] = []  // per case: the bucket of its latest contact, -1 before the first
        var waiting: [[(bucket: Int, at: Int64)]] = []  // per case: contacts not yet answered by staff
        var current = 0
        let cursor = try Row.fetchCursor(
            db,
            sql: """
                SELECT case_id, CASE WHEN direction = 'inbound' THEN 1 WHEN author <> ? THEN 2 ELSE 0 END, sent_at
                FROM messages INDEXED BY messages_desk_time
                WHERE desk_id = ? AND sent_at >= ? AND sent_at < ? AND direction IN ('inbound', 'outbound')
                ORDER BY sent_at
                """, arguments: [Self.automaticAuthor, deskData, fromMs, toExclusive])
        while let row = try cursor.next() {
            let at: Int64 = row[2]
            while current + 1 < bounds.count, bounds[current + 1] <= at { current += 1 }
            guard let key = try CaseKey(row, 0) else { continue }
            let c: Int
            if let known = caseIndex[key] {
                c = known
            } else {
                c = caseIndex.count
                caseIndex[key] = c
                lastContactBucket.append(-1)
                waiting.append([])
            }
            let kind: Int = row[1]
            if kind == 1 {
                buckets[current].messagesIn += 1
                // Messages come in time order, so a case's first inbound message in a bucket is the one that finds
                // its latest contact in an earlier bucket.
                if lastContactBucket[c] != current {
                    lastContactBucket[c] = current
                    buckets[current].contacts += 1
                    contactsByBucket[current].append(c)
                    let (hour, weekday) = cal.hourAndWeekday(at)
                    buckets[current].byHour[hour] += 1
                    buckets[current].byWeekday[weekday] += 1
                    waiting[c].append((current, at))
                }
            } else if kind == 2 {
                buckets[current].messagesOut += 1
                if !waiting[c].isEmpty {
                    for p in waiting[c] {
                        buckets[p.bucket].handled += 1
                        buckets[p.bucket].firstResponses.append((at - p.at) / 1000)
                    }
                    waiting[c].removeAll()
                }
            }
        }

        // Pass 2: the coded records of the contacted cases.
        var ageBand = [String?](repeating: nil, count: caseIndex.count)
        var gender = [String?](repeating: nil, count: caseIndex.count)
        var outcome = [String?](repeating: nil, count: caseIndex.count)
        var categories = [[String]](repeating: [], count: caseIndex.count)
        var referrals = [[String]](repeating: [], count: caseIndex.count)
        if !caseIndex.isEmpty {
            let records = try Row.fetchCursor(
                db, sql: "SELECT case_id, age_band, gender, outcome FROM case_records WHERE desk_id = ?",
                arguments: [deskData])
            while let r = try records.next() {
                guard let key = try CaseKey(r, 0), let c = caseIndex[key] else { continue }
                ageBand[c] = r[1]
                gender[c] = r[2]
                outcome[c] = r[3]
            }
            let codes = try Row.fetchCursor(
                db, sql: "SELECT case_id, kind, code FROM case_record_codes WHERE desk_id = ?", arguments: [deskData])
            while let r = try codes.next() {
                guard let key = try CaseKey(r, 0), let c = caseIndex[key] else { continue }
                if (r[1] as String) == "category" { categories[c].append(r[2]) } else { referrals[c].append(r[2]) }
            }
        }
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
            for c in contactsByBucket[b] {
                for code in categories[c] { buckets[b].byCategory[code, default: 0] += 1 }
                for code in referrals[c] { buckets[b].byReferral[code, default: 0] += 1 }
                buckets[b].byAgeBand[ageBand[c] ?? "unknown", default: 0] += 1
                buckets[b].byGender[gender[c] ?? "unknown", default: 0] += 1
                buckets[b].byOutcome[outcome[c] ?? "unknown", default: 0] += 1
            }
        }

        // Every bucket lists the same cells (a retired code counted in one bucket shows as 0 in the others).
        func align(_ path: WritableKeyPath<StatisticsBucket, [String: Int]>) {
            let keys = Set(buckets.flatMap { $0[keyPath: path].keys })
            for b in buckets.indices {
                for k in keys where buckets[b][keyPath: path][k] == nil { buckets[b][keyPath: path][k] = 0 }
            }
        }
        for path in [\StatisticsBucket.byCategory, \.byReferral, \.byAgeBand, \.byGender, \.byOutcome] { align(path) }

        // Pass 3: cases opened in the period, and closed cases routing reopened (the person wrote again within the
        // reopen window).
        let opened = try Int64.fetchCursor(
            db,
            sql:
                "SELECT opened_at FROM cases INDEXED BY cases_desk_opened WHERE desk_id = ? AND opened_at >= ? AND opened_at < ?",
            arguments: [deskData, fromMs, toExclusive])
        while let t = try opened.next() {
            if let b = bucket(of: t) { buckets[b].newCases += 1 }
        }
        let reopened = try Int64.fetchCursor(
            db, sql: "SELECT reopened_at FROM case_reopens WHERE desk_id = ? AND reopened_at >= ? AND reopened_at < ?",
            arguments: [deskData, fromMs, toExclusive])
        while let t = try reopened.next() {
            if let b = bucket(of: t) { buckets[b].reopenedCases += 1 }
        }

        // Pass 4: cases closed in the period: their duration, and whether they were closed without a record.
        let closed = try Row.fetchCursor(
            db,
            sql: """
                SELECT c.opened_at, c.closed_at, EXISTS (SELECT 1 FROM case_records r WHERE r.case_id = c.id)
                FROM cases c INDEXED BY cases_desk_closed
                WHERE c.desk_id = ? AND c.closed_at >= ? AND c.closed_at < ? AND c.status = 'closed'
                """, arguments: [deskData, fromMs, toExclusive])
        while let r = try closed.next() {
            let closedAt: Int64 = r[1]
            guard let b = bucket(of: closedAt) else { continue }
            buckets[b].durations.append((closedAt - (r[0] as Int64)) / 1000)
            if !(r[2] as Bool) { buckets[b].recordsMissing += 1 }
        }
        return StatisticsReport(
            desk: name, from: from, to: to, group: group, timeZone: zone.identifier, taxonomy: taxonomy,
            buckets: buckets)
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

/// A case id as two integers, read from the row's bytes without allocating (the statistics' per-message key).
struct CaseKey: Hashable {
    let high: UInt64
    let low: UInt64

    init?(_ row: Row, _ index: Int) throws {
        guard
            let key = try row.withUnsafeData(
                atIndex: index,
                { data -> CaseKey? in
                    guard let data, data.count == 16 else { return nil }
                    return data.withUnsafeBytes {
                        CaseKey(
                            high: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                            low: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    }
                })
        else { return nil }
        self = key
    }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}
