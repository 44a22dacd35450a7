import Foundation

@testable import VaultCore

/// Fixed reports (no database, no clock) whose rendering is pinned byte for byte in Vectors/.
enum ReportSamples {
    static let day: Int64 = 86_400_000
    static let start: Int64 = 1_795_000_000_000 - 1_795_000_000_000 % 86_400_000

    static func entry(_ seq: Int64, _ time: Int64, _ actor: String, _ role: String, _ action: String, _ target: String)
        -> AuditEntry
    {
        var e = AuditEntry(
            time: time, actor: actor, role: role, action: action, target: target, outcome: .denied, requestID: "r")
        e.seq = seq
        return e
    }

    /// Twenty days, ten actors (so the chart folds the quietest into "others"), hostile text in every column.
    static var full: AuditReport {
        let days = (0..<20).map { AuditReport.day(start + Int64($0) * day) }
        let actors = (0..<10).map { i in
            AuditReport.ActorRow(
                actor: i == 3 ? "<script>alert(\"x\")</script>" : "user\(i)",
                counts: (0..<20).map { d in (d * 7 + i * 3) % (12 - i) })
        }.sorted { ($0.total, $1.actor) > ($1.total, $0.actor) }
        let bg1 = BreakGlassItem(
            event: AuditEvent(
                entry: entry(40, start + 3 * day + 1234, "sup", "supervisor", "breakglass.start", "case:1 & <2>"),
                reason: "緊急: <b>self-harm</b> risk & \"now\" 'quoted'"),
            reviewer: "aud", comment: "justified <i>ok</i>", reviewedAt: start + 4 * day)
        let bg2 = BreakGlassItem(
            event: AuditEvent(
                entry: entry(41, start + 5 * day, "sup2", "supervisor", "breakglass.start", "case:2"), reason: nil),
            reviewer: nil, comment: nil, reviewedAt: nil)
        return AuditReport(
            vaultID: "0b9f6c2e-1a2b-4c3d-8e9f-000000000001", since: start, until: start + 20 * day,
            generatedAt: start + 21 * day + 5, generatedBy: "aud & co", days: days, actors: actors,
            breakGlass: [bg1, bg2],
            denied: [
                entry(7, start + 100, "cou1", "counselor", "audit.read", "audit:events"),
                entry(9, start + 2 * day, "cou\"2", "counselor", "transcript.read", "case:<x>"),
            ],
            unlockFailures: [entry(11, start + day + 1, "user:?", "", "session.unlock", "user:?")],
            verification: "ok: 1234 entries, head 00ff <checked>", verified: true)
    }

    /// One day, nothing in it, and a failed verification.
    static var empty: AuditReport {
        AuditReport(
            vaultID: "v", since: start, until: start + day, generatedAt: start + day, generatedBy: "aud",
            days: [AuditReport.day(start)], actors: [], breakGlass: [], denied: [], unlockFailures: [],
            verification: "FAILED: seq 3: hash mismatch", verified: false)
    }
}
