import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

/// A user disabled by another process (the CLI writing the same database) loses their live sessions within about a
/// second (red-team finding H4).
@Suite struct SessionRevocationTests {
    @Test(
        "user disable from a second Vault on the same directory ends the user's sessions in serve; others keep theirs")
    func disableFromAnotherProcess() async throws {
        let clock = ManualClock()
        let f = try await Fixture.make(clock: clock.clock)
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let cou1 = try await unlockToken(client, f, "cou1")
            let cou2 = try await unlockToken(client, f, "cou2")
            let adm = try await unlockToken(client, f, "adm")
            #expect(try await client.call(.get, "/v1/cases", token: cou1).status == .ok)
            #expect(try await client.call(.get, "/v1/admin/users", token: adm).status == .ok)
            // The CLI: its own Vault on the same directory.
            let cli = try Vault.open(at: f.directory, clock: clock.clock)
            try await cli.disableUser(username: "cou1", caller: .cli())
            try await cli.disableUser(username: "adm", caller: .cli())
            clock.advance(seconds: 2)
            let refused = try await client.call(.get, "/v1/cases", token: cou1)
            #expect(refused.status == .unauthorized)
            #expect(refused.errorCode == "unauthenticated")
            #expect(try await client.call(.get, "/v1/admin/users", token: adm).status == .unauthorized)
            let issue = try await client.call(
                .post, "/v1/admin/tokens", token: adm, json: ["name": "late-relay", "desks": ["ijime"]])
            #expect(issue.status == .unauthorized)
            // Another user's session still works, and the disabled user's keys are gone from memory.
            #expect(try await client.call(.get, "/v1/cases", token: cou2).status == .ok)
            let cou1ID = try await f.vault.userKeys(username: "cou1").userID
            #expect(!f.vault.sessions.liveUserIDs().contains(cou1ID))
            #expect(f.vault.sessions.authenticate(cou1) == nil)
        }
    }
}
