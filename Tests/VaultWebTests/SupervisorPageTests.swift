import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct SupervisorPageTests {
    static let xss = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>"

    @Test("the dashboard shows the waiting count, urgent and offline cases and who is unlocked; metadata only")
    func dashboard() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let a = try await f.vault.ingest(f.text("最初の相談の本文"), relay: f.relay, requestID: "r")
        let b = try await f.vault.ingest(
            f.text("二件目", user: "U" + String(repeating: "b", count: 32)), relay: f.relay, requestID: "r")
        let sup = try await f.unlock("sup")
        try await f.vault.updateCase(
            a.caseID, CaseUpdate(status: nil, risk: "imminent", hold: nil), as: sup, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        try await f.vault.assign(caseID: b.caseID, to: "cou4", reason: nil, as: cou4, requestID: "r")
        f.vault.sessions.end(userID: cou4.id)
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "sup")
            let p = try await client.page(.get, "/console/desks/ijime/dashboard", cookie: cookie)
            #expect(p.status == .ok)
            expectSecurityHeaders(p)
            #expect(p.text.contains("<dd data-waiting-count>2</dd>"))
            #expect(p.text.contains("<ul data-urgent><li data-case-id=\"\(a.caseID)\">"))
            #expect(p.text.contains("<ul data-offline><li data-case-id=\"\(b.caseID)\">"))
            #expect(p.text.contains("<ul class=\"inline\" data-unlocked><li>sup</li></ul>"))
            #expect(!p.text.contains("最初の相談の本文") && !p.text.contains("二件目"))
            #expect(p.text.contains("action=\"/console/cases/\(a.caseID)/handover\""))
            #expect(!p.text.contains("<script>") && !p.text.contains("style="))
        }
    }

    @Test("counselors, auditors, admins and another desk's supervisor get 403 or 404 for a dashboard and members page")
    func denials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            for user in ["cou1", "aud", "adm", "sup2"] {
                let cookie = try await client.login(f, user)
                for path in [
                    "/console/desks/ijime/dashboard", "/console/desks/ijime/members", "/console/desks/nope/dashboard",
                ] {
                    let p = try await client.page(.get, path, cookie: cookie)
                    #expect(p.status == .forbidden || p.status == .notFound, "\(user) \(path)")
                    #expect(!p.text.contains(m.caseID.description))
                    expectSecurityHeaders(p)
                }
            }
            let aud = try await f.unlock("aud")
            var q = AuditEventQuery()
            q.actor = "cou1"
            q.action = "case.list"
            q.limit = 1000
            let denied = try await f.vault.auditEvents(q, as: aud, requestID: "t").filter {
                $0.entry.outcome == .denied
            }
            #expect(denied.contains { $0.entry.target == "desk:ijime" })
        }
    }

    @Test("handover assigns through the Core call; without the CSRF token it is 403 and nothing changes")
    func handover() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "sup")
            let csrf = try #require(try await client.page(.get, "/console/desks/ijime/dashboard", cookie: cookie).csrf)
            let path = "/console/cases/\(m.caseID)/handover"
            let forged = try await client.page(
                .post, path, cookie: cookie, form: [("desk", "ijime"), ("assignee", "cou1")])
            #expect(forged.status == .forbidden)
            let sup = try await f.unlock("sup")
            var q = CaseQuery()
            q.limit = 10
            #expect(try await f.vault.listCases(q, as: sup).first { $0.id == m.caseID }?.assignee == nil)
            let done = try await client.page(
                .post, path, cookie: cookie, form: [("csrf", csrf), ("desk", "ijime"), ("assignee", "cou1")])
            #expect(done.status == .seeOther)
            #expect(done.location == "/console/desks/ijime/dashboard?done=handover")
            #expect(try await f.vault.listCases(q, as: sup).first { $0.id == m.caseID }?.assignee == "cou1")
            let other = try await client.page(
                .post, path, cookie: cookie, form: [("csrf", csrf), ("desk", "ijime"), ("assignee", "cou2")])
            #expect(other.status == .forbidden)
        }
    }

    @Test("access requests show their reason escaped and are approved or declined through the Core call")
    func accessRequests() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let cou1 = try await f.unlock("cou1")
        try await f.vault.assign(caseID: m.caseID, to: "cou1", reason: nil, as: cou1, requestID: "r")
        let cou4 = try await f.unlock("cou4")
        let id = try await f.vault.requestAccess(m.caseID, reason: Self.xss, as: cou4, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "sup")
            let p = try await client.page(.get, "/console/desks/ijime/dashboard", cookie: cookie)
            #expect(p.text.contains("data-request-id=\"\(id)\""))
            #expect(p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x"))
            #expect(!p.text.contains("<img src=x"))
            let csrf = try #require(p.csrf)
            let forged = try await client.page(
                .post, "/console/access-requests/\(id)/approve", cookie: cookie, form: [("desk", "ijime")])
            #expect(forged.status == .forbidden)
            let ok = try await client.page(
                .post, "/console/access-requests/\(id)/approve", cookie: cookie,
                form: [("csrf", csrf), ("desk", "ijime")])
            #expect(ok.location == "/console/desks/ijime/dashboard?done=approved")
            let state = try await f.vault.listAccessRequests(desk: "ijime", as: try await f.unlock("sup"))
            #expect(state.first { $0.id == id }?.state == "approved")
            let after = try await client.page(.get, "/console/desks/ijime/dashboard", cookie: cookie)
            #expect(!after.text.contains("data-request-id=\"\(id)\""))
            #expect(after.text.contains("data-grant-case=\"\(m.caseID)\""))
            #expect(after.text.contains("<time data-expires>"))
            let cou4Cookie = try await client.login(f, "cou4")
            let granted = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: cou4Cookie)
            #expect(granted.status == .ok)
            #expect(granted.text.contains("data-access-until"))
            let owner = try await client.login(f, "cou1")
            let own = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: owner)
            #expect(!own.text.contains("data-access-until"))
        }
    }

    @Test("members: an invited member is confirmed only with the fingerprint typed; a mismatch is 409, nothing sealed")
    func members() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "sup")
            let p = try await client.page(.get, "/console/desks/ijime/members", cookie: cookie)
            #expect(p.status == .ok)
            #expect(p.text.contains("data-member=\"cou3\" data-state=\"invited\""))
            #expect(!p.text.contains(f.fingerprints["cou3"]!))
            let csrf = try #require(p.csrf)
            let path = "/console/desks/ijime/members/cou3/confirm"
            let wrong = try await client.page(
                .post, path, cookie: cookie, form: [("csrf", csrf), ("fingerprint", f.fingerprints["cou1"]!)])
            #expect(wrong.status == .conflict)
            #expect(wrong.text.contains("data-error"))
            #expect(try await f.vault.members(desk: "ijime").first { $0.username == "cou3" }?.state == "invited")
            let forged = try await client.page(
                .post, path, cookie: cookie, form: [("fingerprint", f.fingerprints["cou3"]!)])
            #expect(forged.status == .forbidden)
            let ok = try await client.page(
                .post, path, cookie: cookie, form: [("csrf", csrf), ("fingerprint", f.fingerprints["cou3"]!)])
            #expect(ok.location == "/console/desks/ijime/members?done=confirmed")
            #expect(try await f.vault.members(desk: "ijime").first { $0.username == "cou3" }?.state == "confirmed")
        }
    }
}
