import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

/// Guarantee 5 says denials are logged: admin-only and supervisor-only routes record a refusal as `denied`.
@Suite struct DenialRecordingTests {
    static func entries(_ f: Fixture) async throws -> [AuditEntry] {
        try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
    }

    @Test("a counselor calling an admin route gets 403 and a `denied` entry; the admin's call still works")
    func adminDenial() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let cou = try await unlockToken(client, f, "cou1")
            let adm = try await unlockToken(client, f, "adm")
            let routes: [(HTTPRequest.Method, String, [String: Any]?, String)] = [
                (.get, "/v1/admin/users", nil, "admin.read"),
                (.post, "/v1/admin/users", ["username": "mallory", "role": "admin"], "user.add"),
                (.post, "/v1/admin/users/cou2/disable", nil, "user.disable"),
                (.post, "/v1/admin/desks/ijime/invites", ["username": "cou2"], "member.invite"),
                (.delete, "/v1/admin/desks/ijime/members/cou4", nil, "member.remove"),
                (.get, "/v1/admin/tokens", nil, "admin.read"),
                (.delete, "/v1/admin/tokens/relay1", nil, "token.revoke"),
            ]
            for (method, path, body, action) in routes {
                let before = try await Self.entries(f).count
                let r = try await client.call(method, path, token: cou, json: body)
                #expect(r.status == .forbidden, "\(path)")
                let added = try await Self.entries(f).dropFirst(before)
                #expect(added.count == 1, "\(path)")
                #expect(added.first?.outcome == .denied, "\(path)")
                #expect(added.first?.actor == "cou1", "\(path)")
                #expect(added.first?.action == action, "\(path)")
            }
            let list = try await client.call(.get, "/v1/admin/users", token: adm)
            #expect(list.status == .ok)
            let add = try await client.call(
                .post, "/v1/admin/users", token: adm, json: ["username": "new1", "role": "counselor"])
            #expect(add.status == .created)
            #expect(try await Self.entries(f).last?.outcome == .allowed)
        }
    }

    @Test("listing cases as an auditor or admin, or access requests as a counselor, is refused and recorded as denied")
    func listingDenials() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let aud = try await unlockToken(client, f, "aud")
            let adm = try await unlockToken(client, f, "adm")
            let cou = try await unlockToken(client, f, "cou1")
            let sup = try await unlockToken(client, f, "sup")
            let refused: [(String, String, String, String)] = [
                (aud, "aud", "/v1/cases", "case.list"), (adm, "adm", "/v1/cases", "case.list"),
                (cou, "cou1", "/v1/access-requests", "access.list"),
            ]
            for (token, actor, path, action) in refused {
                let before = try await Self.entries(f).count
                let r = try await client.call(.get, path, token: token)
                #expect(r.status == .forbidden, "\(actor) \(path)")
                let added = try await Self.entries(f).dropFirst(before)
                #expect(added.count == 1, "\(actor) \(path)")
                #expect(added.first?.outcome == .denied, "\(actor) \(path)")
                #expect(added.first?.actor == actor, "\(actor) \(path)")
                #expect(added.first?.action == action, "\(actor) \(path)")
            }
            // The roles that may list still can, and their listings add no denial.
            let before = try await Self.entries(f).count
            #expect(try await client.call(.get, "/v1/cases", token: cou).status == .ok)
            #expect(try await client.call(.get, "/v1/access-requests", token: sup).status == .ok)
            #expect(try await Self.entries(f).dropFirst(before).allSatisfy { $0.outcome != .denied })
        }
    }

    @Test("a counselor calling a supervisor route gets 403 and a `denied` entry; the supervisor's call still works")
    func supervisorDenial() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let cou = try await unlockToken(client, f, "cou1")
            let sup = try await unlockToken(client, f, "sup")
            let before = try await Self.entries(f).count
            let r = try await client.call(.get, "/v1/desks/ijime/members", token: cou)
            #expect(r.status == .forbidden)
            let added = try await Self.entries(f).dropFirst(before)
            #expect(added.count == 1)
            #expect(added.first?.outcome == .denied)
            #expect(added.first?.actor == "cou1")
            #expect(added.first?.target == "desk:ijime")
            let ok = try await client.call(.get, "/v1/desks/ijime/members", token: sup)
            #expect(ok.status == .ok)
        }
    }
}

/// /readyz: desk names only for staff; 503 integrity_failure when the schema was altered while serving.
@Suite struct ReadinessIntegrityTests {
    @Test("anonymous callers get no desk names, only the count; a staff bearer token gets the names")
    func deskNames() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let anonymous = try await client.call(.get, "/readyz")
            #expect(anonymous.status == .ok)
            #expect(anonymous.json["desks_without_unlocked_supervisor"] as? [String] == [])
            #expect(anonymous.json["desks_without_unlocked_supervisor_count"] as? Int == 2)
            let relay = try await client.call(.get, "/readyz", token: f.relayToken)
            #expect(relay.json["desks_without_unlocked_supervisor"] as? [String] == [])
            let cou = try await unlockToken(client, f, "cou1")
            let staff = try await client.call(.get, "/readyz", token: cou)
            #expect(staff.json["desks_without_unlocked_supervisor"] as? [String] == ["gyakutai", "ijime"])
            #expect(staff.json["desks_without_unlocked_supervisor_count"] as? Int == 2)
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == .ok)
        }
    }

    @Test("a trigger planted while serving: the next read fails closed with integrity_failure and /readyz is 503")
    func plantedLive() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("hello"))
            let caseID = try #require(posted.json["case_id"] as? String)
            let cou = try await unlockToken(client, f, "cou1")
            let ok = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: cou)
            #expect(ok.status == .ok)
            let q = try DatabaseQueue(path: Vault.databasePath(f.directory))
            try await q.writeWithoutTransaction { db in
                try db.execute(sql: "CREATE TRIGGER t BEFORE INSERT ON access_log BEGIN SELECT RAISE(IGNORE); END")
            }
            try q.close()
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: cou)
            #expect(read.status == .conflict)
            #expect(read.errorCode == "integrity_failure")
            #expect(!String(decoding: read.body, as: UTF8.self).contains("hello"))
            let ready = try await client.call(.get, "/readyz")
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.errorCode == "integrity_failure")
        }
    }

    @Test("a transcript read through a tampered key wrap answers 409 integrity_failure, not 500")
    func tamperedWrap() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("hello"))
            let caseID = try #require(posted.json["case_id"] as? String)
            try await f.vault.database.transaction { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT w.id, w.sealed FROM key_wraps w JOIN case_epochs e ON e.key_id = w.key_id
                        WHERE e.case_id = ?
                        """, arguments: [Data(ID(caseID)!.bytes)])
                for row in rows {
                    var sealed = Array(row["sealed"] as Data)
                    sealed[40] ^= 1
                    try db.execute(
                        sql: "UPDATE key_wraps SET sealed = ? WHERE id = ?",
                        arguments: [Data(sealed), row["id"] as Int64])
                }
            }
            let cou = try await unlockToken(client, f, "cou1")
            let read = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: cou)
            #expect(read.status == .conflict)
            #expect(read.errorCode == "integrity_failure")
        }
    }
}
