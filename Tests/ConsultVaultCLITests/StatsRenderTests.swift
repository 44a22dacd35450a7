import Foundation
import Testing
import VaultCore
import VaultTestSupport

@testable import consultvault

/// `consultvault stats`: CSV for Japanese Excel (UTF-8 with BOM, Japanese headers) and a self-contained HTML report.
@Suite struct StatsRenderTests {
    /// A desk with five contacts on 2026-11-18 (JST), three of them recorded as いじめ.
    static func report() async throws -> (Fixture, StatisticsReport) {
        let day0: Int64 = 1_794_927_600_000
        let clock = ManualClock(start: day0)
        let f = try await Fixture.make(clock: clock.clock)
        let sup = try await f.unlock("sup")
        for i in 0..<5 {
            clock.advance(seconds: 3600)
            let stored = try await f.vault.ingest(
                InboundText(
                    desk: "ijime", channel: "line", channelUser: "U\(i)", externalID: "e\(i)",
                    sentAt: clock.milliseconds, text: "<script>相談</script>"), relay: f.relay, requestID: "i\(i)")
            if i < 3 {
                _ = try await f.vault.writeCaseRecord(
                    CaseRecordInput(categories: ["bullying"], gender: "female"), caseID: stored.caseID, as: sup,
                    requestID: "w\(i)")
            }
        }
        let report = try await f.vault.statistics(
            desk: "ijime", from: "2026-11-18", to: "2026-11-19", group: .day, as: sup, requestID: "s")
        return (f, report)
    }

    @Test("the CSV starts with a BOM, reads back as UTF-8-SIG with Japanese headers and <3 for small counts")
    func csv() async throws {
        let (f, report) = try await Self.report()
        defer { f.remove() }
        let bytes = report.csv(.ja)
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        // Read as UTF-8-SIG: drop the BOM, decode strictly.
        let text = try #require(String(bytes: bytes.dropFirst(3), encoding: .utf8))
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 3)
        let header = lines[0].components(separatedBy: ",")
        #expect(header.first == "期間開始")
        #expect(header.contains("相談件数"))
        #expect(header.contains("相談内容: いじめ"))
        #expect(header.contains("性別: 女性"))
        #expect(header.contains("時間帯: 0時"))
        let first = lines[1].components(separatedBy: ",")
        #expect(first.count == header.count)
        func cell(_ name: String, _ row: [String]) -> String? { header.firstIndex(of: name).map { row[$0] } }
        #expect(cell("期間開始", first) == "2026-11-18")
        #expect(cell("相談件数", first) == "5")
        #expect(cell("相談内容: いじめ", first) == "3")
        // Female 3, unknown 2: the 2 is <3 and the 3 is hidden with it (else 5 − 3 gives it away).
        #expect(cell("性別: 不明", first) == "<3")
        #expect(cell("性別: 女性", first) == "<3")
        let second = lines[2].components(separatedBy: ",")
        #expect(cell("相談件数", second) == "0")
        // English headers on request.
        let en = try #require(String(bytes: report.csv(.en).dropFirst(3), encoding: .utf8))
        #expect(en.hasPrefix("start,contacts,"))
        #expect(en.contains("category: Bullying"))
    }

    @Test("the HTML report is one file with inline SVG charts and no external asset; values are escaped")
    func html() async throws {
        let (f, report) = try await Self.report()
        defer { f.remove() }
        for lang in [StatisticsReport.Language.ja, .en] {
            let html = try report.html(lang)
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(html.contains("<svg id=\"contacts-chart\""))
            #expect(html.contains("<rect class=\"bar\""))
            for external in ["<script", "<link", "src=", "href=", "@import", "url(", "http://", "https://"]
            where external != "http://" {
                #expect(!html.contains(external), "\(external)")
            }
            // The only URL is the SVG namespace.
            #expect(
                html.components(separatedBy: "http://").count - 1 == html.components(
                    separatedBy: "xmlns=\"http://www.w3.org/2000/svg\""
                ).count - 1)
        }
        #expect(try report.html(.ja).contains("相談件数"))
        // The JSON the CLI writes is the API's.
        let json = try #require(try JSONSerialization.jsonObject(with: report.publishedJSON()) as? [String: Any])
        #expect(json["suppressed_below"] as? Int == 3)
        #expect((json["buckets"] as? [[String: Any]])?.first?["contacts"] as? Int == 5)
    }
}
