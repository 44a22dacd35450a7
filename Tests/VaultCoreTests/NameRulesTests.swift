import Foundation
import Testing
import VaultCore
import VaultTestSupport

/// Usernames and relay token names are plain ASCII (red-team finding L3): nothing that prints like another name.
@Suite struct NameRulesTests {
    static let lookalikes = [
        "sato\u{2028}", "sato\u{2029}", "sato\u{85}", "sato\n", "sato\r\n", "sato\u{0}", "\u{202E}sato",
        "sa\u{202E}to", "sato ", " sato", "sa to", "sato\t", "Sato", "SATO", "ｓａｔｏ", "sat\u{043E}", "sato\u{200B}",
        "", ".sato", "-sato", String(repeating: "a", count: 65),
    ]

    @Test(
        "user add refuses line separators, NUL, bidi overrides, blanks, uppercase and lookalikes, saying what is allowed"
    )
    func usernames() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        for name in Self.lookalikes {
            await #expect(throws: VaultError.self, "accepted \(name.unicodeScalars.map { $0.value })") {
                _ = try await f.vault.addUser(username: name, role: .counselor, caller: .cli())
            }
        }
        do {
            _ = try await f.vault.addUser(username: "sato\u{2028}", role: .counselor, caller: .cli())
        } catch let e as VaultError {
            #expect(e.code == .invalidRequest)
            #expect(e.message.contains("a–z, 0–9, '.', '_' or '-'"))
        }
        // The names the fixture, ops/demo, ops/e2e and ops/fuzz use stay valid.
        for name in ["sato", "cou.1", "fuzz-admin", "admin1", "sup_2", String(repeating: "a", count: 64), "0day"] {
            _ = try await f.vault.addUser(username: name, role: .counselor, caller: .cli())
        }
    }

    @Test("token issue refuses the same lookalike names and keeps the usual ones")
    func tokenNames() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        for name in Self.lookalikes {
            await #expect(throws: VaultError.self, "accepted \(name.unicodeScalars.map { $0.value })") {
                _ = try await f.vault.issueRelayToken(name: name, desks: ["ijime"], caller: .cli())
            }
        }
        for name in ["relay2", "demo-relay", "relay-ijime-2026-11", "relay.b_1"] {
            _ = try await f.vault.issueRelayToken(name: name, desks: ["ijime"], caller: .cli())
        }
    }
}
