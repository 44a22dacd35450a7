import Foundation
import GRDB

/// How statistics group time.
public enum StatisticsGroup: String, Sendable, CaseIterable {
    case day, week, month
}

/// One bucket's raw counts (before suppression). Every `by…` breakdown counts contacts (cases with an inbound
/// message in the bucket); see API.md "Statistics definitions" and schema/FORMAT.md "Statistics".
public struct StatisticsBucket: Sendable, Equatable {
    /// The bucket's first day (the day, the ISO week's Monday, the month's 1st) as YYYY-MM-DD in the desk's zone.
    public var start: String
    public var contacts = 0
    public var newCases = 0
    public var reopenedCases = 0
    public var handled = 0
    public var unanswered: Int { contacts - handled }
    public var recordsMissing = 0
    public var messagesIn = 0
    public var messagesOut = 0
    /// Seconds from each handled contact's first inbound message in the bucket to the next staff reply.
    public var firstResponses: [Int64] = []
    /// closed_at − opened_at of the cases closed in the bucket.
    public var durations: [Int64] = []
    public var byCategory: [String: Int] = [:]
    public var byAgeBand: [String: Int] = [:]
    public var byGender: [String: Int] = [:]
    public var byOutcome: [String: Int] = [:]
    public var byReferral: [String: Int] = [:]
    public var byHour = [Int](repeating: 0, count: 24)
    /// Monday first.
    public var byWeekday = [Int](repeating: 0, count: 7)

    public init(start: String) { self.start = start }
}

/// A desk's statistics over a period, raw (the vault publishes them only through `Published`).
public struct StatisticsReport: Sendable, Equatable {
    public var desk: String
    public var from: String
    public var to: String
    public var group: StatisticsGroup
    public var timeZone: String
    public var taxonomy: Taxonomy
    public var buckets: [StatisticsBucket]
}

/// A published count: a number, or `<3` when it is 1 or 2 or hidden to protect another (complementary suppression).
public enum PublishedCount: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case suppressed

    public var description: String {
        switch self {
        case .count(let n): return String(n)
        case .suppressed: return "<3"
        }
    }
}

/// The suppression rule (API.md; ops/THREAT-MODEL.md "Statistics"): a zero is published; 1 and 2 are `<3`; when
/// exactly one cell of a breakdown would be hidden, the next smallest non-zero cell is hidden too, so no hidden
/// cell follows from the breakdown's total (`contacts`) less the cells shown.
public enum Suppression {
    public static let threshold = 3

    /// One stand-alone count.
    public static func cell(_ n: Int) -> PublishedCount { (1..<threshold).contains(n) ? .suppressed : .count(n) }

    /// A breakdown's cells, in their order.
    public static func breakdown(_ cells: [Int]) -> [PublishedCount] {
        var out = cells.map(cell)
        let hidden = out.indices.filter { out[$0] == .suppressed }
        if hidden.count == 1 {
            let next = out.indices.filter { out[$0] != .suppressed && cells[$0] > 0 }
                .min { (cells[$0], $0) < (cells[$1], $1) }
            if let next { out[next] = .suppressed }
        }
        return out
    }

    /// A breakdown keyed by code (cells ordered by key, for a deterministic choice among equal counts).
    public static func breakdown(_ cells: [String: Int]) -> [String: PublishedCount] {
        let keys = cells.keys.sorted()
        let published = breakdown(keys.map { cells[$0]! })
        return Dictionary(uniqueKeysWithValues: zip(keys, published))
    }

    /// p-th percentile by nearest rank (ceil(p·n)-th smallest); nil when fewer than `threshold` values exist.
    public static func percentile(_ values: [Int64], _ p: Double) -> Int64? {
        percentiles(values, p, p).0
    }

    /// Two percentiles from one sort (p50 and p90 of a bucket's times).
    static func percentiles(_ values: [Int64], _ p: Double, _ q: Double) -> (Int64?, Int64?) {
        guard values.count >= threshold else { return (nil, nil) }
        let sorted = values.sorted()
        func rank(_ p: Double) -> Int64 {
            sorted[min(max(1, Int((p * Double(sorted.count)).rounded(.up))), sorted.count) - 1]
        }
        return (rank(p), rank(q))
    }
}

/// A bucket as published: every count passed through `Suppression`.
public struct PublishedBucket: Sendable, Equatable {
    public var start: String
    public var contacts: PublishedCount
    public var newCases: PublishedCount
    public var reopenedCases: PublishedCount
    public var handled: PublishedCount
    public var unanswered: PublishedCount
    public var recordsMissing: PublishedCount
    public var messagesIn: PublishedCount
    public var messagesOut: PublishedCount
    public var firstResponse: (p50: Int64?, p90: Int64?)
    public var duration: (p50: Int64?, p90: Int64?)
    public var byCategory: [String: PublishedCount]
    public var byAgeBand: [String: PublishedCount]
    public var byGender: [String: PublishedCount]
    public var byOutcome: [String: PublishedCount]
    public var byReferral: [String: PublishedCount]
    public var byHour: [PublishedCount]
    public var byWeekday: [PublishedCount]

    public static func == (a: PublishedBucket, b: PublishedBucket) -> Bool {
        a.start == b.start && a.contacts == b.contacts && a.byCategory == b.byCategory && a.byHour == b.byHour
            && a.firstResponse == b.firstResponse && a.duration == b.duration
    }

    /// Publishes `b`: handled and unanswered are one breakdown of contacts; new and reopened cases another.
    public init(_ b: StatisticsBucket) {
        start = b.start
        contacts = Suppression.cell(b.contacts)
        let answered = Suppression.breakdown([b.handled, b.unanswered])
        handled = answered[0]
        unanswered = answered[1]
        let opened = Suppression.breakdown([b.newCases, b.reopenedCases])
        newCases = opened[0]
        reopenedCases = opened[1]
        recordsMissing = Suppression.cell(b.recordsMissing)
        messagesIn = Suppression.cell(b.messagesIn)
        messagesOut = Suppression.cell(b.messagesOut)
        firstResponse = Suppression.percentiles(b.firstResponses, 0.5, 0.9)
        duration = Suppression.percentiles(b.durations, 0.5, 0.9)
        byCategory = Suppression.breakdown(b.byCategory)
        byAgeBand = Suppression.breakdown(b.byAgeBand)
        byGender = Suppression.breakdown(b.byGender)
        byOutcome = Suppression.breakdown(b.byOutcome)
        byReferral = Suppression.breakdown(b.byReferral)
        byHour = Suppression.breakdown(b.byHour)
        byWeekday = Suppression.breakdown(b.byWeekday)
    }
}

extension StatisticsReport {
    public var published: [PublishedBucket] { buckets.map(PublishedBucket.init) }
}

/// Calendar arithmetic for statistics: the buckets' bounds in the desk's time zone, and local hour and weekday.
struct StatisticsCalendar {
    let calendar: Calendar
    let zone: TimeZone
    /// UTC offsets by UTC hour (memo: a month of messages touches ~750 hours).
    private var offsets: [Int64: Int64] = [:]

    init(zone: TimeZone) {
        var c = Calendar(identifier: .iso8601)
        c.timeZone = zone
        c.firstWeekday = 2
        c.minimumDaysInFirstWeek = 4
        calendar = c
        self.zone = zone
    }

    /// The local midnight starting `date` (YYYY-MM-DD), in Unix ms.
    func startOfDay(_ date: String) -> Int64? {
        let parts = date.split(separator: "-")
        guard date.utf8.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]),
            let d = Int(parts[2]),
            let day = calendar.date(from: DateComponents(timeZone: zone, year: y, month: m, day: d)),
            calendar.component(.day, from: day) == d, calendar.component(.month, from: day) == m
        else { return nil }
        return Int64((day.timeIntervalSince1970 * 1000).rounded())
    }

    /// The bucket starts (local calendar starts, in ms) covering [from, toExclusive), and their labels.
    func buckets(from: Int64, toExclusive: Int64, group: StatisticsGroup) -> [(start: Int64, label: String)] {
        let first = Date(timeIntervalSince1970: Double(from) / 1000)
        var start: Date
        switch group {
        case .day: start = calendar.startOfDay(for: first)
        case .week:
            start = calendar.dateInterval(of: .weekOfYear, for: first)?.start ?? calendar.startOfDay(for: first)
        case .month: start = calendar.dateInterval(of: .month, for: first)?.start ?? calendar.startOfDay(for: first)
        }
        var out: [(Int64, String)] = []
        let component: Calendar.Component = group == .day ? .day : group == .week ? .weekOfYear : .month
        while Int64((start.timeIntervalSince1970 * 1000).rounded()) < toExclusive {
            let c = calendar.dateComponents([.year, .month, .day], from: start)
            let label = String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
            out.append((Int64((start.timeIntervalSince1970 * 1000).rounded()), label))
            guard let next = calendar.date(byAdding: component, value: 1, to: start) else { break }
            start = next
        }
        return out
    }

    /// Local hour (0–23) and weekday (0 = Monday) of a Unix-ms time.
    mutating func hourAndWeekday(_ ms: Int64) -> (hour: Int, weekday: Int) {
        let utcHour = ms >= 0 ? ms / 3_600_000 : (ms - 3_599_999) / 3_600_000
        let offset: Int64
        if let known = offsets[utcHour] {
            offset = known
        } else {
            offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utcHour * 3600)))) * 1000
            offsets[utcHour] = offset
        }
        let local = ms + offset
        let days = local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000
        let hour = Int((local - days * 86_400_000) / 3_600_000)
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = Int(((days % 7) + 7 + 3) % 7)
        return (hour, weekday)
    }
}
