import Foundation
import Mustache
import VaultCore

/// The statistics as one self-contained HTML page (inline CSS and SVG charts, no external asset), rendered like the
/// audit report: a constant Mustache template with escaped tags only.
extension StatisticsReport {
    static let chartWidth = 960
    static let chartHeight = 260

    func html(_ lang: Language) throws -> String {
        try MustacheTemplate(string: Self.statisticsTemplate).render(htmlContext(lang))
    }

    /// A bar chart: one bar per value; a suppressed value is drawn as a short grey bar titled `<3`.
    func chart(id: String, title: String, labels: [String], values: [PublishedCount]) -> [String: Any] {
        let left = 48
        let bottom = Self.chartHeight - 40
        let plotWidth = Self.chartWidth - left - 20
        let plotHeight = bottom - 16
        let numbers = values.map { v -> Int in if case .count(let n) = v { return n } else { return 0 } }
        let maxCount = max(3, numbers.max() ?? 3)
        let group = Double(plotWidth) / Double(max(values.count, 1))
        var bars: [[String: Any]] = []
        for (i, v) in values.enumerated() {
            let h: Double
            let color: String
            switch v {
            case .count(let n):
                h = Double(plotHeight) * Double(n) / Double(maxCount)
                color = "#1f77b4"
            case .suppressed:
                h = Double(plotHeight) * 2 / Double(maxCount)
                color = "#bbbbbb"
            }
            bars.append([
                "x": String(format: "%.1f", Double(left) + Double(i) * group + group * 0.1),
                "y": String(format: "%.1f", Double(bottom) - h), "w": String(format: "%.1f", max(1, group * 0.8)),
                "h": String(format: "%.1f", h), "color": color, "title": "\(labels[i]): \(v)",
            ])
        }
        let step = max(1, labels.count / 16)
        let axis: [[String: Any]] = labels.enumerated().filter { $0.offset % step == 0 }.map {
            ["x": String(format: "%.1f", Double(left) + (Double($0.offset) + 0.5) * group), "label": $0.element]
        }
        return [
            "id": id, "title": title, "width": Self.chartWidth, "height": Self.chartHeight, "left": left,
            "right": Self.chartWidth - 20, "top": 16, "bottom": bottom, "max": maxCount, "bars": bars, "axis": axis,
        ]
    }

    func htmlContext(_ lang: Language) -> [String: Any] {
        let ja = lang == .ja
        let pub = published
        let starts = pub.map(\.start)
        // Only figures the table publishes anyway (no period totals: a total over buckets beside suppressed
        // cells would let a reader solve for them).
        let charts = [
            chart(
                id: "contacts-chart", title: ja ? "相談件数" : "Contacts", labels: starts, values: pub.map(\.contacts)),
            chart(
                id: "handled-chart", title: ja ? "対応済" : "Handled", labels: starts, values: pub.map(\.handled)),
            chart(
                id: "unanswered-chart", title: ja ? "未対応" : "Unanswered", labels: starts,
                values: pub.map(\.unanswered)),
        ]
        let rows = pub.map { columns($0, lang) }
        let header = rows.first?.map(\.0) ?? []
        return [
            "lang": lang.rawValue,
            "title": ja ? "相談統計 \(desk) \(from)〜\(to)" : "Consultation statistics, \(desk), \(from) to \(to)",
            "note": ja
                ? "1〜2件は「<3」と表示し、内訳のうち1つだけが秘匿される場合は次に小さい件数も秘匿しています(タイムゾーン \(timeZone))。"
                : "Counts of 1 or 2 are shown as <3; when only one cell of a breakdown would be hidden, the next smallest is hidden too (time zone \(timeZone)).",
            "charts": charts,
            "table_title": ja ? "集計表" : "Figures",
            "header": header.map { ["h": $0] },
            "rows": rows.map { ["cells": $0.map { ["v": $0.1] }] },
        ]
    }

    /// Only `{{…}}` (escaped) tags: no value can inject markup.
    static let statisticsTemplate = """
        <!DOCTYPE html>
        <html lang="{{lang}}">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>{{title}}</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
        table { border-collapse: collapse; margin-top: .5em; font-size: 12px; }
        th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
        th { background: #f3f3f3; }
        .scroll { overflow-x: auto; }
        </style>
        </head>
        <body>
        <h1>{{title}}</h1>
        <p>{{note}}</p>
        {{#charts}}
        <h2>{{title}}</h2>
        <svg id="{{id}}" xmlns="http://www.w3.org/2000/svg" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{title}}">
        <line x1="{{left}}" y1="{{bottom}}" x2="{{right}}" y2="{{bottom}}" stroke="#444"/>
        <line x1="{{left}}" y1="{{top}}" x2="{{left}}" y2="{{bottom}}" stroke="#444"/>
        <text x="{{left}}" y="{{top}}" dx="-6" text-anchor="end" font-size="11">{{max}}</text>
        <text x="{{left}}" y="{{bottom}}" dx="-6" text-anchor="end" font-size="11">0</text>
        {{#bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{w}}" height="{{h}}" fill="{{color}}"><title>{{title}}</title></rect>
        {{/bars}}
        {{#axis}}<text x="{{x}}" y="{{bottom}}" dy="16" text-anchor="middle" font-size="10">{{label}}</text>
        {{/axis}}
        </svg>
        {{/charts}}
        <h2>{{table_title}}</h2>
        <div class="scroll"><table id="figures">
        <tr>{{#header}}<th>{{h}}</th>{{/header}}</tr>
        {{#rows}}<tr>{{#cells}}<td>{{v}}</td>{{/cells}}</tr>
        {{/rows}}
        </table></div>
        </body>
        </html>

        """
}
