import Foundation
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

@Suite struct RecoveryTests {
    @Test("3 of 5 recovery shares re-seal a desk to a new supervisor who reads its history; 2 shares do not")
    func threeOfFive() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let r = try await f.vault.ingest(f.text("history"), relay: f.relay, requestID: "r")
        // Every key holder of ijime is lost.
        try await f.vault.disableUser(username: "sup", caller: .cli())
        try await f.vault.disableUser(username: "cou1", caller: .cli())
        try await f.vault.disableUser(username: "cou4", caller: .cli())
        let files = try Shamir.split(f.recovery.secretKey, shares: 5, threshold: 3).map {
            $0.encodeFile(publicKey: f.recovery.publicKey)
        }
        let two = try files.prefix(2).map { try Shamir.Share.decodeFile($0).share }
        #expect(throws: CryptoError.self) { try Shamir.combine(two) }
        let three = try [files[0], files[2], files[4]].map { try Shamir.Share.decodeFile($0).share }
        let secret = try Shamir.combine(three)
        // sup2 (a supervisor of another desk) takes over ijime.
        try await f.vault.recoverDesk(name: "ijime", to: "sup2", recoverySecret: secret, caller: .cli())
        let sup2 = try await f.unlock("sup2")
        try await f.vault.assign(caseID: r.caseID, to: "sup2", reason: "desk recovered", as: sup2, requestID: "r")
        let page = try await f.vault.transcript(caseID: r.caseID, afterSeq: 0, limit: 10, as: sup2, requestID: "r")
        #expect(page.first?.text == "history")
        // A wrong secret (another key) is refused and recorded.
        await #expect(throws: VaultError.self) {
            try await f.vault.recoverDesk(
                name: "ijime", to: "sup2", recoverySecret: try SecretBytes.random(count: 32), caller: .cli())
        }
        let actions = try await f.vault.database.read { db in try AuditLog.entries(in: db, limit: 10_000) }
        #expect(actions.contains { $0.action == "desk.recover" && $0.outcome == .allowed })
        #expect(actions.contains { $0.action == "desk.recover" && $0.outcome == .denied })
    }

    @Test("a corrupted share file is detected")
    func corrupted() throws {
        let key = try BoxKeyPair.generate()
        var file = try Shamir.split(key.secretKey, shares: 3, threshold: 2)[0].encodeFile(publicKey: key.publicKey)
        let i = try #require(file.range(of: "share: ")).upperBound
        let c = file[i]
        file.replaceSubrange(i...i, with: c == "A" ? "B" : "A")
        #expect(throws: CryptoError.self) { try Shamir.Share.decodeFile(file) }
    }
}
