import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCrypto
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

/// Bad input on the routes issue 14 added or changed: `POST /v1/desks/{desk}/accept` and the self-assignment
/// `reason` of `POST /v1/cases/{id}/assign`.
@Suite struct DeskAcceptRouteTests {
    func recoveryWraps(_ f: Fixture, desk: String) async throws -> Int {
        try await f.vault.database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM key_wraps w JOIN desk_keys k ON k.key_id = w.key_id JOIN desks d ON d.id = k.desk_id
                    WHERE d.name = ? AND w.recipient_key_id = ?
                    """, arguments: [desk, Data(Hashing.keyID(f.recovery.publicKey))]) ?? -1
        }
    }

    @Test(
        "desk accept: unauthenticated, malformed, wrong-type, oversize, wrong role and replayed requests seal nothing")
    func acceptBadInput() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.vault.addDesk(
            name: "shinro", supervisor: "sup", recoveryKey: f.recovery.publicKey, retentionDays: nil, caller: .cli())
        let path = "/v1/desks/shinro/accept"
        let fingerprint = Vault.recoveryFingerprint(f.recovery.publicKey)
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let sup2 = try await unlockToken(client, f, "sup2")
            let cou = try await unlockToken(client, f, "cou1")
            #expect(
                try await client.call(.post, path, json: ["recovery_fingerprint": fingerprint]).status == .unauthorized)
            #expect(
                try await client.call(.post, path, token: sup, raw: "{\"recovery_fingerprint\":").status == .badRequest)
            #expect(
                try await client.call(.post, path, token: sup, json: ["recovery_fingerprint": 5]).status == .badRequest)
            #expect(try await client.call(.post, path, token: sup, json: [String: String]()).status == .badRequest)
            let huge = String(repeating: "a", count: 300_000)
            #expect(
                try await client.call(.post, path, token: sup, json: ["recovery_fingerprint": huge]).status
                    == .contentTooLarge)
            #expect(
                try await client.call(.post, path, token: sup, raw: "x", contentType: "text/plain").status
                    == .unsupportedMediaType)
            #expect(
                try await client.call(.post, path, token: cou, json: ["recovery_fingerprint": fingerprint]).status
                    == .forbidden)
            #expect(
                try await client.call(.post, path, token: sup2, json: ["recovery_fingerprint": fingerprint]).status
                    == .forbidden)
            let wrong = try await client.call(
                .post, path, token: sup, json: ["recovery_fingerprint": f.fingerprints["cou1"]!])
            #expect(wrong.status == .conflict)
            #expect(try await recoveryWraps(f, desk: "shinro") == 0)
            #expect(
                try await client.call(
                    .post, "/v1/desks/nosuch/accept", token: sup, json: ["recovery_fingerprint": fingerprint]
                ).status == .notFound)
            let ok = try await client.call(.post, path, token: sup, json: ["recovery_fingerprint": fingerprint])
            #expect(ok.status == .ok)
            #expect(ok.json["state"] as? String == "accepted")
            #expect(try await recoveryWraps(f, desk: "shinro") == 2)
            // Replayed: already vouched for, nothing sealed twice.
            #expect(
                try await client.call(.post, path, token: sup, json: ["recovery_fingerprint": fingerprint]).status
                    == .conflict)
            #expect(try await recoveryWraps(f, desk: "shinro") == 2)
        }
    }

    @Test(
        "assign: a supervisor's self-assignment without a reason, or with a non-string one, is 400; with one it is 200")
    func selfAssignReason() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let m = try await f.vault.ingest(f.text("hello"), relay: f.relay, requestID: "r")
        let path = "/v1/cases/\(m.caseID)/assign"
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            #expect(try await client.call(.post, path, token: sup, json: ["assignee": "sup"]).status == .badRequest)
            #expect(
                try await client.call(.post, path, token: sup, json: ["assignee": "sup", "reason": "  "]).status
                    == .badRequest)
            #expect(
                try await client.call(.post, path, token: sup, json: ["assignee": "sup", "reason": 7]).status
                    == .badRequest)
            let ok = try await client.call(.post, path, token: sup, json: ["assignee": "sup", "reason": "night cover"])
            #expect(ok.status == .ok)
        }
    }
}
