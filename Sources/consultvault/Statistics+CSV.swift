import Foundation
import VaultCore

/// The statistics as CSV for Japanese Excel: UTF-8 with a byte order mark, CRLF line ends, Japanese headers (or
/// English with `--lang en`), one row per bucket, suppressed counts as `<3`.
extension StatisticsReport {
    enum Language: String {
        case ja, en
    }

    /// (header, value) columns of one published bucket, in order.
    func columns(_ b: PublishedBucket, _ lang: Language) -> [(String, String)] {
        let ja = lang == .ja
        func label(_ items: [TaxonomyItem], _ code: String) -> String {
            if code == "unknown" { return ja ? "不明" : "unknown" }
            guard let item = items.first(where: { $0.code == code }) else { return code }
            return ja ? item.ja : item.en
        }
        func seconds(_ v: Int64?) -> String { v.map(String.init) ?? "" }
        var out: [(String, String)] = [
            (ja ? "期間開始" : "start", b.start),
            (ja ? "相談件数" : "contacts", b.contacts.description),
            (ja ? "新規ケース" : "new cases", b.newCases.description),
            (ja ? "再相談ケース" : "reopened cases", b.reopenedCases.description),
            (ja ? "対応済" : "handled", b.handled.description),
            (ja ? "未対応" : "unanswered", b.unanswered.description),
            (ja ? "記録未入力" : "records missing", b.recordsMissing.description),
            (ja ? "受信メッセージ数" : "messages in", b.messagesIn.description),
            (ja ? "送信メッセージ数" : "messages out", b.messagesOut.description),
            (ja ? "初回応答時間 中央値(秒)" : "first response p50 (s)", seconds(b.firstResponse.p50)),
            (ja ? "初回応答時間 90%値(秒)" : "first response p90 (s)", seconds(b.firstResponse.p90)),
            (ja ? "対応時間 中央値(秒)" : "duration p50 (s)", seconds(b.duration.p50)),
            (ja ? "対応時間 90%値(秒)" : "duration p90 (s)", seconds(b.duration.p90)),
        ]
        let groups: [(String, String, [TaxonomyItem], [String: PublishedCount])] = [
            ("相談内容", "category", taxonomy.categories, b.byCategory),
            ("年齢層", "age band", taxonomy.ageBands, b.byAgeBand),
            ("性別", "gender", taxonomy.genders, b.byGender),
            ("対応結果", "outcome", taxonomy.outcomes, b.byOutcome),
            ("紹介先", "referral", taxonomy.referrals, b.byReferral),
        ]
        for (jaName, enName, items, cells) in groups {
            let order = items.map(\.code).filter { cells[$0] != nil } + ["unknown"].filter { cells[$0] != nil }
            let rest = cells.keys.filter { !order.contains($0) }.sorted()
            for code in order + rest {
                out.append(("\(ja ? jaName : enName): \(label(items, code))", cells[code]!.description))
            }
        }
        for (h, v) in b.byHour.enumerated() { out.append((ja ? "時間帯: \(h)時" : "hour: \(h)", v.description)) }
        let days = ja ? ["月", "火", "水", "木", "金", "土", "日"] : ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        for (d, v) in b.byWeekday.enumerated() {
            out.append((ja ? "曜日: \(days[d])" : "weekday: \(days[d])", v.description))
        }
        return out
    }

    /// The CSV bytes, starting with the UTF-8 byte order mark.
    func csv(_ lang: Language) -> [UInt8] {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let rows = published.map { columns($0, lang) }
        let header =
            rows.first.map { $0.map(\.0) } ?? columns(PublishedBucket(StatisticsBucket(start: from)), lang).map(\.0)
        var text = header.map(field).joined(separator: ",") + "\r\n"
        for row in rows { text += row.map { field($0.1) }.joined(separator: ",") + "\r\n" }
        return [0xEF, 0xBB, 0xBF] + Array(text.utf8)
    }
}
