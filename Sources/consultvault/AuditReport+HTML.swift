import Foundation
import Mustache
import VaultCore

extension AuditReport {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    static let chartWidth = 960
    static let chartHeight = 320

    /// The report as one self-contained HTML page (inline CSS and SVG, no external assets). Every value is
    /// HTML-escaped by the Mustache template (`{{…}}`); the template uses no unescaped tags.
    /// Presentation lives here, in the CLI; VaultCore only gathers the report's data.
    /// - Throws: a Mustache parse error (a bug: the template is a constant).
    func html() throws -> String {
        try MustacheTemplate(string: Self.template).render(context)
    }

    /// Chart series: the seven busiest actors, then everyone else as "others".
    var series: [ActorRow] {
        guard actors.count > Self.palette.count else { return actors }
        let top = actors.prefix(Self.palette.count - 1)
        var rest = [Int](repeating: 0, count: days.count)
        for a in actors.dropFirst(Self.palette.count - 1) {
            for (i, c) in a.counts.enumerated() { rest[i] += c }
        }
        return Array(top) + [ActorRow(actor: "others", counts: rest)]
    }

    var context: [String: Any] {
        let series = self.series
        let left = 48
        let bottom = Self.chartHeight - 40
        let plotWidth = Self.chartWidth - left - 200  // the legend sits to the right
        let plotHeight = bottom - 16
        let maxCount = max(1, series.flatMap(\.counts).max() ?? 1)
        let group = Double(plotWidth) / Double(max(days.count, 1))
        let barWidth = max(1.0, group * 0.8 / Double(max(series.count, 1)))
        var bars: [[String: Any]] = []
        for (s, row) in series.enumerated() {
            for (d, count) in row.counts.enumerated() where count > 0 {
                let h = Double(plotHeight) * Double(count) / Double(maxCount)
                bars.append([
                    "x": String(format: "%.1f", Double(left) + Double(d) * group + group * 0.1 + Double(s) * barWidth),
                    "y": String(format: "%.1f", Double(bottom) - h), "w": String(format: "%.1f", barWidth),
                    "h": String(format: "%.1f", h), "color": Self.palette[s % Self.palette.count],
                    "title": "\(row.actor), \(days[d]): \(count)",
                ])
            }
        }
        let labelStep = max(1, days.count / 12)
        let dayLabels: [[String: Any]] = days.enumerated().filter { $0.offset % labelStep == 0 }.map {
            ["x": String(format: "%.1f", Double(left) + (Double($0.offset) + 0.5) * group), "label": $0.element]
        }
        let legend: [[String: Any]] = series.enumerated().map {
            ["name": $0.element.actor, "color": Self.palette[$0.offset % Self.palette.count], "y": 20 + $0.offset * 16]
        }
        func entryRow(_ e: AuditEntry) -> [String: Any] {
            [
                "seq": e.seq, "time": Timestamp.format(e.time), "actor": e.actor, "role": e.role, "action": e.action,
                "target": e.target,
            ]
        }
        return [
            "vault": vaultID, "since": Timestamp.format(since), "until": Timestamp.format(until),
            "generated_at": Timestamp.format(generatedAt), "generated_by": generatedBy,
            "verification": verification, "verified": verified,
            "chart": [
                "width": Self.chartWidth, "height": Self.chartHeight, "left": left, "bottom": bottom,
                "right": left + plotWidth, "top": 16, "max": maxCount, "bars": bars, "days": dayLabels,
                "legend": legend, "legend_x": Self.chartWidth - 180,
            ],
            "days": days, "actors": actors.map { ["actor": $0.actor, "counts": $0.counts, "total": $0.total] },
            "has_actors": !actors.isEmpty,
            "break_glass": breakGlass.map { b in
                entryRow(b.event.entry).merging([
                    "reason": b.event.reason ?? "(sealed: not confirmed into the auditors' key)",
                    "state": b.reviewed ? "reviewed" : "pending", "reviewer": b.reviewer ?? "",
                    "comment": b.comment ?? "", "reviewed_at": b.reviewedAt.map(Timestamp.format) ?? "",
                ]) { $1 }
            },
            "has_break_glass": !breakGlass.isEmpty,
            "denied": denied.map(entryRow), "has_denied": !denied.isEmpty,
            "unlock_failures": unlockFailures.map(entryRow), "has_unlock_failures": !unlockFailures.isEmpty,
        ]
    }
}
