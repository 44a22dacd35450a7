import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct AccountAndAccessTests {
    @Test("passphrase change on the account page: the Core call of the API; the old passphrase stops working")
    func passphraseChange() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou1")
            let account = try await client.page(.get, "/console/account", cookie: cookie)
            #expect(account.status == .ok)
            #expect(account.text.contains("data-idle-clock"))
            let csrf = try #require(account.csrf)
            let new = "a brand new passphrase 新しい"
            let mismatch = try await client.page(
                .post, "/console/account/passphrase", cookie: cookie,
                form: [
                    ("csrf", csrf), ("passphrase", f.passphrases["cou1"]!), ("new_passphrase", new),
                    ("new_passphrase_confirm", new + "x"),
                ])
            #expect(mismatch.status == .badRequest)
            #expect(!mismatch.text.contains(new))
            let changed = try await client.page(
                .post, "/console/account/passphrase", cookie: cookie,
                form: [
                    ("csrf", csrf), ("passphrase", f.passphrases["cou1"]!), ("new_passphrase", new),
                    ("new_passphrase_confirm", new),
                ])
            #expect(changed.status == .seeOther)
            #expect(changed.location == "/console/account?changed=1")
            let old = try await client.page(
                .post, "/console/login", form: [("username", "cou1"), ("passphrase", f.passphrases["cou1"]!)])
            #expect(old.status == .unauthorized)
            let fresh = try await client.page(
                .post, "/console/login", form: [("username", "cou1"), ("passphrase", new)])
            #expect(fresh.status == .seeOther)
        }
    }

    @Test("another counselor's case: 403 without content, with an access request that reaches Core")
    func accessRequest() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("担当者だけが読む"), relay: f.relay, requestID: "r")
        try await f.vault.assign(caseID: m.caseID, to: "cou1", as: try await f.unlock("cou1"), requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou4")
            let page = try await client.page(.get, "/console/cases/\(m.caseID)", cookie: cookie)
            #expect(page.status == .forbidden)
            #expect(!page.text.contains("担当者だけが読む"))
            #expect(page.text.contains("action=\"/console/cases/\(m.caseID)/access-requests\""))
            let csrf = try #require(page.csrf)
            let empty = try await client.page(
                .post, "/console/cases/\(m.caseID)/access-requests", cookie: cookie, form: [("csrf", csrf)])
            #expect(empty.status == .badRequest)
            let asked = try await client.page(
                .post, "/console/cases/\(m.caseID)/access-requests", cookie: cookie,
                form: [("csrf", csrf), ("reason", "covering the night shift")])
            #expect(asked.status == .seeOther)
            let sup = try await f.unlock("sup")
            let pending = try await f.vault.listAccessRequests(desk: "ijime", as: sup)
            #expect(pending.count == 1)
        }
    }
}
