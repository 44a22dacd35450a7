import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

@Suite struct AuditRoutesTests {
    /// A break-glass start with a sealed reason, appended through Core (the workflow adds the real route).
    static func breakGlass(_ f: Fixture, reason: String) async throws -> Int64 {
        let caller = Caller(actor: "sup", role: "supervisor", requestID: ID.v4().description)
        return try await f.vault.database.transaction { db in
            let desk = try f.vault.desk(db, name: "ijime")
            try f.vault.record(db, caller, "breakglass.start", "case:\(ID.v4())", reason: reason, desk: desk)
            try f.vault.checkpoint(db)
            return try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log") ?? 0
        }
    }

    /// Adds and enrolls a second auditor; returns its fingerprint.
    static func secondAuditor(_ f: Fixture) async throws -> String {
        let code = try await f.vault.addUser(username: "aud2", role: .auditor, caller: .cli()).code
        return try await f.vault.enroll(
            username: "aud2", code: code, passphrase: "passphrase of aud2 秘密", requestID: "setup")
    }

    @Test("every audit route: 401 without a token, 403 for relay, counselor, supervisor and admin, 2xx for an auditor")
    func authorizationMatrix() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let seq = try await Self.breakGlass(f, reason: "r")
        let fingerprint = try await Self.secondAuditor(f)
        try await makeApp(f).test(.router) { client in
            var tokens: [String: String] = ["relay": f.relayToken]
            for u in ["cou1", "sup", "adm", "aud"] { tokens[u] = try await unlockToken(client, f, u) }
            let routes: [(HTTPRequest.Method, String, [String: Any]?, HTTPResponse.Status)] = [
                (.get, "/v1/audit/events", nil, .ok),
                (.get, "/v1/audit/export", nil, .ok),
                (.get, "/v1/audit/checkpoints", nil, .ok),
                (.get, "/v1/audit/break-glass", nil, .ok),
                (.post, "/v1/audit/break-glass/\(seq)/review", ["comment": "checked"], .ok),
                (.post, "/v1/audit/auditors/aud2/confirm", ["fingerprint": fingerprint], .ok),
            ]
            for (method, path, body, success) in routes {
                let none = try await client.call(method, path, json: body)
                #expect(none.status == .unauthorized, "\(path) without a token")
                #expect(none.errorCode == "unauthenticated")
                for who in ["relay", "cou1", "sup", "adm"] {
                    let r = try await client.call(method, path, token: tokens[who], json: body)
                    #expect(r.status == .forbidden, "\(path) as \(who): \(r.status)")
                    #expect(r.errorCode == "forbidden")
                }
                let ok = try await client.call(method, path, token: tokens["aud"], json: body)
                #expect(ok.status == success, "\(path) as auditor: \(ok.status) \(ok.errorMessage ?? "")")
                #expect(ok.headers[.cacheControl] == "no-store")
            }
        }
        let denied = try await f.vault.database.read { db in
            try AuditLog.entries(in: db, after: 0, limit: 100_000).filter {
                $0.outcome == .denied && ["cou1", "sup", "adm"].contains($0.actor)
            }
        }
        #expect(denied.count == 18)  // 6 routes × 3 staff roles, each denial recorded
    }

    @Test("events: oldest first, paging and filters, reasons decrypted for auditors, reading is itself logged")
    func events() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let seq = try await Self.breakGlass(f, reason: "命の危険: 連絡が途絶えた")
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "aud")
            let page = try await client.call(.get, "/v1/audit/events?after=2&limit=5", token: token)
            #expect(page.status == .ok)
            let events = try #require(page.json["events"] as? [[String: Any]])
            #expect(events.map { $0["seq"] as? Int } == [3, 4, 5, 6, 7])
            let keys = Set(events[0].keys)
            #expect(
                keys == [
                    "seq", "time", "actor", "role", "action", "target", "outcome", "request_id", "reason", "hash",
                ])
            let bg = try await client.call(.get, "/v1/audit/events?action=breakglass.start", token: token)
            let first = try #require((bg.json["events"] as? [[String: Any]])?.first)
            #expect(first["seq"] as? Int == Int(seq))
            #expect(first["reason"] as? String == "命の危険: 連絡が途絶えた")
            #expect(first["actor"] as? String == "sup")
            let caseID = try #require((first["target"] as? String)?.dropFirst(5))
            let byCase = try await client.call(.get, "/v1/audit/events?case=\(caseID)", token: token)
            #expect((byCase.json["events"] as? [[String: Any]])?.count == 1)
            let reads = try await client.call(.get, "/v1/audit/events?actor=aud&action=audit.read", token: token)
            #expect((reads.json["events"] as? [[String: Any]])?.count == 4)  // this read included
            let bad = try await client.call(.get, "/v1/audit/events?case=nope", token: token)
            #expect(bad.status == .badRequest)
            let badLimit = try await client.call(.get, "/v1/audit/events?limit=1001", token: token)
            #expect(badLimit.errorCode == "invalid_request")
        }
    }

    @Test("break-glass queue: pending, then reviewed with reviewer and comment; twice → 409; not a break-glass → 404")
    func review() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let seq = try await Self.breakGlass(f, reason: "urgent")
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "aud")
            let queue = try await client.call(.get, "/v1/audit/break-glass", token: token)
            let item = try #require((queue.json["break_glass"] as? [[String: Any]])?.first)
            #expect(item["state"] as? String == "pending")
            #expect(item["reason"] as? String == "urgent")
            let r = try await client.call(
                .post, "/v1/audit/break-glass/\(seq)/review", token: token, json: ["comment": "justified: 見守り継続"])
            #expect(r.status == .ok)
            #expect(r.json["state"] as? String == "reviewed")
            #expect(r.json["reviewer"] as? String == "aud")
            #expect(r.json["comment"] as? String == "justified: 見守り継続")
            let again = try await client.call(
                .post, "/v1/audit/break-glass/\(seq)/review", token: token, json: ["comment": "x"])
            #expect(again.status == .conflict)
            let other = try await client.call(
                .post, "/v1/audit/break-glass/1/review", token: token, json: ["comment": "x"])
            #expect(other.status == .notFound)
            let empty = try await client.call(
                .post, "/v1/audit/break-glass/\(seq)/review", token: token, json: ["comment": ""])
            #expect(empty.status == .badRequest)
            let logged = try await client.call(.get, "/v1/audit/events?action=breakglass.review", token: token)
            let entry = try #require((logged.json["events"] as? [[String: Any]])?.first)
            #expect(entry["target"] as? String == "breakglass:\(seq)")
            #expect(entry["reason"] as? String == "justified: 見守り継続")
        }
    }

    @Test(
        "auditor confirmation: a wrong fingerprint seals nothing (409); the right one lets the new auditor read reasons"
    )
    func confirmAuditor() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await Self.breakGlass(f, reason: "sealed to auditors")
        let fingerprint = try await Self.secondAuditor(f)
        try await makeApp(f).test(.router) { client in
            let aud = try await unlockToken(client, f, "aud")
            let r2 = try await client.call(
                .post, "/v1/sessions", json: ["username": "aud2", "passphrase": "passphrase of aud2 秘密"])
            let aud2 = try #require(r2.json["token"] as? String)
            func reason() async throws -> Any? {
                let r = try await client.call(.get, "/v1/audit/events?action=breakglass.start", token: aud2)
                return (r.json["events"] as? [[String: Any]])?.first?["reason"] as Any?
            }
            #expect(try await reason() is NSNull)
            let bad = try await client.call(
                .post, "/v1/audit/auditors/aud2/confirm", token: aud, json: ["fingerprint": "0000 0000"])
            #expect(bad.status == .conflict)
            #expect(try await reason() is NSNull)
            let notYet = try await client.call(
                .post, "/v1/audit/auditors/aud/confirm", token: aud2, json: ["fingerprint": fingerprint])
            #expect(notYet.status == .forbidden)  // aud2 holds no copy of the key yet
            let ok = try await client.call(
                .post, "/v1/audit/auditors/aud2/confirm", token: aud, json: ["fingerprint": fingerprint.uppercased()])
            #expect(ok.status == .ok)
            #expect(try await reason() as? String == "sealed to auditors")
        }
    }

    @Test("the HTTP export is JSON Lines that verify offline with the vault's public key")
    func export() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        _ = try await Self.breakGlass(f, reason: "x")
        try await makeApp(f).test(.router) { client in
            let token = try await unlockToken(client, f, "aud")
            let r = try await client.call(.get, "/v1/audit/export", token: token)
            #expect(r.headers[.contentType]?.hasPrefix("application/jsonl") == true)
            let verifier = AuditVerifier(verifiers: [try NoteVerifier(parsing: f.vault.keys.verifierKey)])
            try Array(r.body).withUnsafeBufferPointer { try verifier.feedExport($0) }
            let summary = try verifier.finish()
            #expect(summary.checkpoints >= 1)
            #expect(
                String(decoding: r.body, as: UTF8.self).split(separator: "\n").last?.contains("\"checkpoint\"") == true)
        }
    }
}
