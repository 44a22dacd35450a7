import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct QueueTests {
    @Test("the queue lists the desk's open cases as data-case-id rows linking the case page, metadata only")
    func queue() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("secret words of the citizen"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            let cookie = try await client.login(f, "cou1")
            let home = try await client.page(.get, "/console/", cookie: cookie)
            #expect(home.location == "/console/desks/ijime/queue")
            let q = try await client.page(.get, "/console/desks/ijime/queue", cookie: cookie)
            #expect(q.status == .ok)
            expectSecurityHeaders(q)
            #expect(q.text.contains("data-case-id=\"\(m.caseID)\""))
            #expect(q.text.contains("href=\"/console/cases/\(m.caseID)\""))
            #expect(!q.text.contains("secret words"))
            #expect(q.text.contains("data-idle-seconds=\"900\""))
        }
    }

    @Test("a counselor of another desk, an auditor and an admin get 403 for the queue, never a 200")
    func denials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        try await makeConsoleApp(f).test(.router) { client in
            for user in ["cou2", "aud", "adm"] {
                let cookie = try await client.login(f, user)
                let q = try await client.page(.get, "/console/desks/ijime/queue", cookie: cookie)
                #expect(q.status == .forbidden || q.status == .notFound, "\(user)")
                #expect(!q.text.contains(m.caseID.description))
                expectSecurityHeaders(q)
            }
            let cou2 = try await client.login(f, "cou2")
            let own = try await client.page(.get, "/console/desks/gyakutai/queue", cookie: cou2)
            #expect(own.status == .ok)
            #expect(!own.text.contains(m.caseID.description))
        }
    }
}
