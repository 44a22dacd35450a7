import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct AdminPageTests {
    /// The text of the element carrying `attribute` (`<code … attribute>TEXT</code>`).
    static func element(_ text: String, _ attribute: String) -> String? {
        guard let r = text.range(of: "\(attribute)>") else { return nil }
        return String(text[r.upperBound...].prefix { $0 != "<" })
    }

    @Test("adding a user shows the enrollment code once in data-enrollment-code, never in a URL; the code enrolls")
    func addUser() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "adm")
            let p = try await client.page(.get, "/console/admin", cookie: cookie)
            #expect(p.status == .ok)
            expectSecurityHeaders(p)
            #expect(p.text.contains("name=\"username\"") && p.text.contains("name=\"role\""))
            #expect(!p.text.contains("data-enrollment-code"))
            let csrf = try #require(p.csrf)
            let forged = try await client.page(
                .post, "/console/admin/users", cookie: cookie, form: [("username", "new1"), ("role", "counselor")])
            #expect(forged.status == .forbidden)
            #expect(try await f.vault.listUsers().contains { $0.username == "new1" } == false)
            let added = try await client.page(
                .post, "/console/admin/users", cookie: cookie,
                form: [("csrf", csrf), ("username", "new1"), ("role", "counselor")])
            #expect(added.status == .created)
            #expect(added.location == nil)
            let code = try #require(Self.element(added.text, "data-enrollment-code"))
            #expect(code.count >= 16)
            let again = try await client.page(.get, "/console/admin", cookie: cookie)
            #expect(!again.text.contains(code) && again.text.contains("data-user=\"new1\" data-state=\"pending\""))
            let fingerprint = try await f.vault.enroll(
                username: "new1", code: code, passphrase: "a long passphrase for new1", requestID: "t")
            #expect(!fingerprint.isEmpty)
            let xss = try await client.page(
                .post, "/console/admin/users", cookie: cookie,
                form: [("csrf", csrf), ("username", "<script>x</script>"), ("role", "counselor")])
            #expect(!xss.text.contains("<script>x"))
        }
    }

    @Test("counselors, supervisors and auditors get 403 for the admin page and every admin action, recorded")
    func denials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            for user in ["cou1", "sup", "aud"] {
                let cookie = try await client.login(f, user)
                let p = try await client.page(.get, "/console/admin", cookie: cookie)
                #expect(p.status == .forbidden, "\(user)")
                expectSecurityHeaders(p)
                let csrf = try #require(
                    try await client.page(.get, "/console/account", cookie: cookie).csrf)
                let add = try await client.page(
                    .post, "/console/admin/users", cookie: cookie,
                    form: [("csrf", csrf), ("username", "x\(user)"), ("role", "admin")])
                #expect(add.status == .forbidden && !add.text.contains("data-enrollment-code"))
                let token = try await client.page(
                    .post, "/console/admin/tokens", cookie: cookie,
                    form: [("csrf", csrf), ("name", "t\(user)"), ("desks", "ijime")])
                #expect(token.status == .forbidden && !token.text.contains("data-relay-token"))
            }
            #expect(try await f.vault.listUsers().allSatisfy { !$0.username.hasPrefix("x") })
            let aud = try await f.unlock("aud")
            var q = AuditEventQuery()
            q.action = "user.add"
            q.outcome = .denied
            #expect(try await f.vault.auditEvents(q, as: aud, requestID: "t").count == 3)
        }
    }

    @Test("relay tokens are shown once on issue and can be revoked; users disabled; retention shortening waits")
    func tokensUsersRetention() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "adm")
            let csrf = try #require(try await client.page(.get, "/console/admin", cookie: cookie).csrf)
            let issued = try await client.page(
                .post, "/console/admin/tokens", cookie: cookie,
                form: [("csrf", csrf), ("name", "relay2"), ("desks", "ijime")])
            #expect(issued.status == .created)
            let token = try #require(Self.element(issued.text, "data-relay-token"))
            #expect(try await f.vault.authenticateRelay(token) != nil)
            let revoke = try await client.page(
                .post, "/console/admin/tokens/relay2/revoke", cookie: cookie, form: [("csrf", csrf)])
            #expect(revoke.location == "/console/admin?done=revoked")
            #expect(try await f.vault.listTokens().first { $0.name == "relay2" }?.revoked == true)
            let disable = try await client.page(
                .post, "/console/admin/users/cou4/disable", cookie: cookie, form: [("csrf", csrf)])
            #expect(disable.location == "/console/admin?done=disabled")
            #expect(try await f.vault.listUsers().first { $0.username == "cou4" }?.state == "disabled")
            let shorten = try await client.page(
                .post, "/console/admin/retention", cookie: cookie,
                form: [("csrf", csrf), ("desk", "ijime"), ("days", "0")])
            #expect(shorten.location == "/console/admin?done=retention_pending")
            let page = try await client.page(.get, "/console/admin", cookie: cookie)
            #expect(page.text.contains("data-pending-desk=\"ijime\""))
            #expect(!page.text.contains(f.relayToken))
            let sup = try await client.login(f, "sup")
            let dash = try await client.page(.get, "/console/desks/ijime/dashboard", cookie: sup)
            #expect(dash.text.contains("<span data-pending-retention>0</span>"))
            let approve = try await client.page(
                .post, "/console/desks/ijime/retention/approve", cookie: sup, form: [("csrf", try #require(dash.csrf))])
            #expect(approve.location == "/console/desks/ijime/dashboard?done=retention")
            #expect(try await f.vault.pendingRetentionChanges().isEmpty)
        }
    }
}
