import Foundation

extension PublishedCount {
    /// A number, or the string `"<3"`.
    var jsonValue: Any {
        switch self {
        case .count(let n): return n
        case .suppressed: return "<3"
        }
    }
}

extension StatisticsReport {
    /// The published statistics as API.md's JSON object (sorted keys): every count suppressed by `Suppression`.
    public func publishedJSON() throws -> Data {
        func map(_ d: [String: PublishedCount]) -> [String: Any] { d.mapValues(\.jsonValue) }
        func pair(_ p: (p50: Int64?, p90: Int64?)) -> [String: Any] {
            ["p50": p.p50.map { $0 as Any } ?? NSNull(), "p90": p.p90.map { $0 as Any } ?? NSNull()]
        }
        let buckets: [[String: Any]] = published.map { b in
            [
                "start": b.start, "contacts": b.contacts.jsonValue, "new_cases": b.newCases.jsonValue,
                "reopened_cases": b.reopenedCases.jsonValue, "handled": b.handled.jsonValue,
                "unanswered": b.unanswered.jsonValue, "records_missing": b.recordsMissing.jsonValue,
                "messages_in": b.messagesIn.jsonValue, "messages_out": b.messagesOut.jsonValue,
                "first_response_seconds": pair(b.firstResponse), "duration_seconds": pair(b.duration),
                "by_category": map(b.byCategory), "by_age_band": map(b.byAgeBand), "by_gender": map(b.byGender),
                "by_outcome": map(b.byOutcome), "by_referral": map(b.byReferral),
                "by_hour": b.byHour.map(\.jsonValue), "by_weekday": b.byWeekday.map(\.jsonValue),
            ]
        }
        let object: [String: Any] = [
            "desk": desk, "from": from, "to": to, "group": group.rawValue, "time_zone": timeZone,
            "suppressed_below": Suppression.threshold, "buckets": buckets,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
