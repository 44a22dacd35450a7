import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct AuditPageTests {
    static let xss = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>"

    /// The `data-seq` values on a page, in order.
    static func seqs(_ text: String) -> [Int64] {
        text.components(separatedBy: "<tr data-seq=\"").dropFirst().compactMap { Int64($0.prefix { $0 != "\"" }) }
    }

    @Test("the access log: entries as data-seq rows, newest first, filtered by action and outcome, paged by seq")
    func log() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        for i in 0..<40 {
            _ = try await f.vault.ingest(f.text("m\(i)", external: "e\(i)"), relay: f.relay, requestID: "r")
        }
        try await makeConsoleApp(f).test(.router) { client in
            let cou1 = try await client.login(f, "cou1")
            _ = try await client.page(.get, "/console/audit", cookie: cou1)  // a recorded denial
            let cookie = try await client.login(f, "aud")
            let p = try await client.page(.get, "/console/audit", cookie: cookie)
            #expect(p.status == .ok)
            expectSecurityHeaders(p)
            let seqs = Self.seqs(p.text)
            #expect(seqs.count == 50)
            #expect(seqs == seqs.sorted(by: >))
            let older = try #require(
                p.text.components(separatedBy: "href=\"").first { $0.contains("data-page-older") }.map {
                    String($0.prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
                })
            #expect(older == "/console/audit?before=\(seqs.last!)")
            let page2 = try await client.page(.get, older, cookie: cookie)
            #expect(Self.seqs(page2.text).first == seqs.last! - 1)
            let denied = try await client.page(
                .get, "/console/audit?outcome=denied&actor=cou1&action=audit.read", cookie: cookie)
            let rows = Self.seqs(denied.text)
            #expect(rows.count == 1)
            #expect(denied.text.contains("data-action=\"audit.read\" data-outcome=\"denied\""))
            let none = try await client.page(.get, "/console/audit?from=2001-01-01&to=2001-01-02", cookie: cookie)
            #expect(Self.seqs(none.text).isEmpty && none.text.contains("data-audit-empty"))
            let bad = try await client.page(.get, "/console/audit?case=not-a-case", cookie: cookie)
            #expect(bad.status == .badRequest)
        }
    }

    @Test("counselors, supervisors and admins get 403 for every auditor page, recorded as denied")
    func denials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            for user in ["cou1", "sup", "adm"] {
                let cookie = try await client.login(f, user)
                for path in [
                    "/console/audit", "/console/audit/chain", "/console/audit/break-glass", "/console/audit/report",
                    "/console/audit/report?from=2026-01-01&to=2026-01-02",
                ] {
                    let p = try await client.page(.get, path, cookie: cookie)
                    #expect(p.status == .forbidden, "\(user) \(path)")
                    #expect(!p.text.contains("data-seq"))
                    expectSecurityHeaders(p)
                }
            }
        }
    }

    @Test("the chain page verifies the log and shows the newest checkpoint and the unanchored entries")
    func chain() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await f.vault.checkpoint(force: true)
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "aud")
            let p = try await client.page(.get, "/console/audit/chain", cookie: cookie)
            #expect(p.status == .ok)
            #expect(p.text.contains("data-verified=\"true\""))
            #expect(p.text.contains("<dd data-unanchored>"))
            #expect(p.text.contains("<dd data-checkpoint-seq>"))
        }
    }

    @Test("break-glass reviews: the reason is shown escaped; a review needs the CSRF token and a comment")
    func breakGlassReview() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("監査で見えない相談内容"), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        _ = try await f.vault.breakGlass(m.caseID, reason: Self.xss, as: sup, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "aud")
            let p = try await client.page(.get, "/console/audit/break-glass", cookie: cookie)
            #expect(p.status == .ok)
            #expect(p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x"))
            #expect(!p.text.contains("<img src=x") && !p.text.contains("監査で見えない相談内容"))
            #expect(p.text.contains("<strong data-review-waiting>1</strong>"))
            let seq = try #require(
                p.text.components(separatedBy: "data-breakglass-seq=\"").dropFirst().first.map {
                    String($0.prefix { $0 != "\"" })
                })
            let csrf = try #require(p.csrf)
            let path = "/console/audit/break-glass/\(seq)/review"
            #expect(try await client.page(.post, path, cookie: cookie, form: [("comment", "ok")]).status == .forbidden)
            let empty = try await client.page(.post, path, cookie: cookie, form: [("csrf", csrf), ("comment", " ")])
            #expect(empty.status == .badRequest)
            let done = try await client.page(
                .post, path, cookie: cookie, form: [("csrf", csrf), ("comment", "電話で確認済み <b>")])
            #expect(done.location == "/console/audit/break-glass?done=reviewed")
            let after = try await client.page(.get, "/console/audit/break-glass", cookie: cookie)
            #expect(after.text.contains("data-reviewed=\"true\""))
            #expect(after.text.contains("電話で確認済み &lt;b&gt;"))
            #expect(after.text.contains("<strong data-review-waiting>0</strong>"))
            let report = try await client.page(.get, "/console/audit/report", cookie: cookie)
            #expect(report.status == .ok)
            #expect(report.text.contains("data-report"))
            #expect(report.text.contains("data-breakglass-seq=\"\(seq)\""))
            #expect(!report.text.contains("監査で見えない相談内容") && !report.text.contains("<img src=x"))
        }
    }
}
