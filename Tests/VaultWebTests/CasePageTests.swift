import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultCrypto
import VaultHTTP
import VaultTestSupport

@testable import VaultWeb

@Suite struct CasePageTests {
    static let xss = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"]

    @Test("message text with <script> or an attribute break renders as inert text in data-message-id elements")
    func escaping() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let a = try await f.vault.ingest(f.text(Self.xss[0]), relay: f.relay, requestID: "r")
        let b = try await f.vault.ingest(f.text(Self.xss[1]), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou1")
            let page = try await client.page(.get, "/console/cases/\(a.caseID)", cookie: cookie)
            #expect(page.status == .ok)
            expectSecurityHeaders(page)
            #expect(page.text.contains("data-message-id=\"\(a.messageID)\""))
            #expect(page.text.contains("data-message-id=\"\(b.messageID)\""))
            #expect(!page.text.contains("<script>alert"))
            #expect(!page.text.contains("<img src=x"))
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(page.text.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
            // No inline script or style anywhere.
            #expect(!page.text.contains("<script>") && !page.text.contains("<style") && !page.text.contains("style="))
        }
    }

    @Test("the counselor loop through the console: take, reply, note, close, each the Core call the API makes")
    func loop() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("助けて"), relay: f.relay, requestID: "r")
        let relayKey = try BoxKeyPair.generate()
        try await f.vault.setRelayKey(
            desk: "ijime", publicKey: relayKey.publicKey, supervisor: try await f.unlock("sup"), requestID: "k")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou1")
            let csrf = try #require(try await client.page(.get, "/console/desks/ijime/queue", cookie: cookie).csrf)
            let base = "/console/cases/\(m.caseID)"
            #expect(
                try await client.page(.post, "\(base)/assign", cookie: cookie, form: [("csrf", csrf)]).status
                    == .seeOther)
            let empty = try await client.page(
                .post, "\(base)/replies", cookie: cookie, form: [("csrf", csrf), ("text", " ")])
            #expect(empty.status == .badRequest)
            let reply = try await client.page(
                .post, "\(base)/replies", cookie: cookie, form: [("csrf", csrf), ("text", "話してくれてありがとう")])
            #expect(reply.location == "\(base)?done=reply")
            let note = try await client.page(
                .post, "\(base)/notes", cookie: cookie, form: [("csrf", csrf), ("text", "メモ & <b>")])
            #expect(note.status == .seeOther)
            let page = try await client.page(.get, "\(base)?done=reply", cookie: cookie)
            #expect(page.text.contains("話してくれてありがとう"))
            #expect(page.text.contains("メモ &amp; &lt;b&gt;"))
            #expect(page.text.contains("data-done=\"reply\""))
            let close = try await client.page(.post, "\(base)/close", cookie: cookie, form: [("csrf", csrf)])
            #expect(close.status == .seeOther)
            let cou1 = try await f.unlock("cou1")
            var q = CaseQuery()
            q.limit = 10
            let closed = try await f.vault.listCases(q, as: cou1).first { $0.id == m.caseID }
            #expect(closed?.status == "closed")
            #expect(closed?.assignee == "cou1")
        }
    }

    @Test("a supervisor who may not read sees no transcript and break-glass; an empty reason is 400 and starts nothing")
    func breakGlass() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("秘密の相談"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "sup")
            let page = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: cookie)
            #expect(!page.text.contains("秘密の相談"))
            #expect(!page.text.contains("data-message-id"))
            #expect(page.text.contains("action=\"/console/cases/\(m.caseID)/break-glass\""))
            #expect(page.text.contains("name=\"reason\""))
            let csrf = try #require(page.csrf)
            let empty = try await client.page(
                .post, "/console/cases/\(m.caseID)/break-glass", cookie: cookie,
                form: [("csrf", csrf), ("reason", "  ")])
            #expect(empty.status == .badRequest)
            let still = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: cookie)
            #expect(!still.text.contains("秘密の相談"))
            let glass = try await client.page(
                .post, "/console/cases/\(m.caseID)/break-glass", cookie: cookie,
                form: [("csrf", csrf), ("reason", "imminent risk reported by phone")])
            #expect(glass.status == .seeOther)
            let read = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: cookie)
            #expect(read.text.contains("秘密の相談"))
        }
    }

    @Test("a counselor of another desk, an auditor and an admin get no content from a case page")
    func denials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("見えてはいけない"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            for user in ["cou2", "aud", "adm"] {
                let cookie = try await client.login(f, user)
                for path in ["/console/cases/\(m.caseID)", "/console/cases/\(m.caseID)/transcript?after_seq=0"] {
                    let page = try await client.page(.get, path, cookie: cookie)
                    #expect(page.status == .forbidden || page.status == .notFound, "\(user) \(path)")
                    #expect(!page.text.contains("見えてはいけない"))
                    expectSecurityHeaders(page)
                }
            }
        }
    }

    @Test("/console/events answers 401 without a session, with the security headers")
    func eventsUnauthenticated() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let r = try await client.page(.get, "/console/events")
            #expect(r.status == .unauthorized)
            expectSecurityHeaders(r)
            let forged = try await client.page(.get, "/console/events", cookie: "cv_session=cvs_nope")
            #expect(forged.status == .unauthorized)
        }
    }

    @Test("event filter: counselors get their desks' queue and own cases, supervisors their desks, others nothing")
    func eventFilter() {
        let cou = EventFilter(username: "cou1", role: .counselor, desks: ["ijime"])
        #expect(cou.mayList(desk: "ijime", assignee: nil))
        #expect(cou.mayList(desk: "ijime", assignee: "cou1"))
        #expect(!cou.mayList(desk: "ijime", assignee: "cou4"))
        #expect(!cou.mayList(desk: "gyakutai", assignee: nil))
        let sup = EventFilter(username: "sup", role: .supervisor, desks: ["ijime"])
        #expect(sup.mayList(desk: "ijime", assignee: "cou4"))
        #expect(!sup.mayList(desk: "gyakutai", assignee: nil))
        for role in [Role.auditor, .admin] {
            #expect(!EventFilter(username: "x", role: role, desks: ["ijime"]).mayList(desk: "ijime", assignee: nil))
        }
        #expect(cou.assigned("cou4") == "other" && cou.assigned("cou1") == "me" && cou.assigned(nil) == "none")
    }
}
