import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

/// Issue 17: the desk taxonomy and the coded case record (API.md "Case records, triage and statistics").
@Suite struct RecordRoutesTests {
    static func entries(_ f: Fixture) async throws -> [AuditEntry] {
        try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
    }

    static func item(_ code: String, _ ja: String = "ラベル", _ en: String = "Label", retired: Bool = false)
        -> [String: Any]
    {
        ["code": code, "ja": ja, "en": en, "retired": retired]
    }

    /// A small valid taxonomy body.
    static func taxonomy(categories: [[String: Any]]) -> [String: Any] {
        [
            "categories": categories, "age_bands": [item("junior_high", "中学生")], "genders": [item("female", "女性")],
            "outcomes": [item("concluded", "終了")], "referrals": [item("police", "警察")],
        ]
    }

    @Test(
        "the default taxonomy ships with the ministries' categories; members read it, others are refused and recorded")
    func defaultTaxonomy() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let cou = try await unlockToken(client, f, "cou1")
            let r = try await client.call(.get, "/v1/desks/ijime/taxonomy", token: cou)
            #expect(r.status == .ok)
            let categories = try #require(r.json["categories"] as? [[String: Any]])
            let labels = categories.compactMap { $0["ja"] as? String }
            for expected in ["いじめ", "不登校", "友人関係", "家族関係", "虐待", "性の悩み・性被害", "自殺念慮・自傷", "その他"] {
                #expect(labels.contains(expected), "\(expected)")
            }
            let outcomes = (r.json["outcomes"] as? [[String: Any]] ?? []).compactMap { $0["ja"] as? String }
            #expect(outcomes.contains("他機関紹介") && outcomes.contains("途中離脱"))
            let referrals = (r.json["referrals"] as? [[String: Any]] ?? []).compactMap { $0["ja"] as? String }
            #expect(referrals.contains("児童相談所") && referrals.contains("警察"))
            #expect((r.json["age_bands"] as? [Any])?.isEmpty == false)
            #expect(categories.allSatisfy { $0["retired"] as? Bool == false })
            // Another desk's counselor, the auditor, the admin and a relay are refused, each recorded.
            for (who, actor) in [("cou2", "cou2"), ("aud", "aud"), ("adm", "adm"), ("relay", "relay1")] {
                let token = who == "relay" ? f.relayToken : try await unlockToken(client, f, who)
                let before = try await Self.entries(f).count
                let denied = try await client.call(.get, "/v1/desks/ijime/taxonomy", token: token)
                #expect(denied.status == .forbidden, "\(who)")
                let added = try await Self.entries(f).dropFirst(before)
                #expect(added.contains { $0.outcome == .denied && $0.actor == actor && $0.action == "taxonomy.read" })
            }
            #expect(try await client.call(.get, "/v1/desks/ijime/taxonomy").status == .unauthorized)
        }
    }

    @Test("taxonomy validation: bad codes, duplicates, empty labels, empty or oversize lists, wrong types → 400")
    func taxonomyValidation() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let bad: [[String: Any]] = [
                Self.taxonomy(categories: [Self.item("a"), Self.item("a")]),
                Self.taxonomy(categories: [Self.item("Bad-Code")]),
                Self.taxonomy(categories: [Self.item("unknown")]),
                Self.taxonomy(categories: [Self.item("x", "", "X")]),
                Self.taxonomy(categories: [Self.item("x", "エックス", "  ")]),
                Self.taxonomy(categories: [Self.item("x", String(repeating: "長", count: 100), "X")]),
                Self.taxonomy(categories: []),
                Self.taxonomy(categories: (0..<201).map { Self.item("c\($0)") }),
                Self.taxonomy(categories: [["code": 5, "ja": "a", "en": "b"]]),
                ["categories": [Self.item("a")]],
            ]
            for body in bad {
                let r = try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, json: body)
                #expect(r.status == .badRequest, "\(body)")
            }
            let malformed = try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, raw: "{\"categories\":")
            #expect(malformed.status == .badRequest)
            let huge = try await client.call(
                .put, "/v1/desks/ijime/taxonomy", token: sup, raw: String(repeating: " ", count: 2_000_000))
            #expect(huge.status == .contentTooLarge)
            // Nothing was stored: the default still answers.
            let r = try await client.call(.get, "/v1/desks/ijime/taxonomy", token: sup)
            #expect((r.json["categories"] as? [Any])?.count == Taxonomy.standard.categories.count)
            // A counselor may not change it (recorded); the supervisor may (recorded as taxonomy.change).
            let cou = try await unlockToken(client, f, "cou1")
            let good = Self.taxonomy(categories: [Self.item("a", "あ", "A")])
            let before = try await Self.entries(f).count
            #expect(
                try await client.call(.put, "/v1/desks/ijime/taxonomy", token: cou, json: good).status == .forbidden)
            let set = try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, json: good)
            #expect(set.status == .ok)
            #expect((set.json["categories"] as? [[String: Any]])?.first?["ja"] as? String == "あ")
            let added = try await Self.entries(f).dropFirst(before)
            #expect(added.contains { $0.actor == "cou1" && $0.outcome == .denied && $0.action == "taxonomy.change" })
            #expect(added.contains { $0.actor == "sup" && $0.outcome == .allowed && $0.action == "taxonomy.change" })
            // The other desk keeps the default.
            let sup2 = try await unlockToken(client, f, "sup2")
            let other = try await client.call(.get, "/v1/desks/gyakutai/taxonomy", token: sup2)
            #expect((other.json["categories"] as? [Any])?.count == Taxonomy.standard.categories.count)
        }
    }

    @Test(
        "a record takes only codes of the taxonomy; a code in use is retired, not removed (409); retired codes are refused for new records"
    )
    func recordCodes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let one = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("はじめまして", user: "U1"))
            let first = try #require(one.json["case_id"] as? String)
            let two = try await client.call(
                .post, "/v1/messages", token: f.relayToken, json: message("こんにちは", user: "U2"))
            let second = try #require(two.json["case_id"] as? String)
            // Unknown codes in any field → 400, nothing stored.
            let unknown: [[String: Any]] = [
                ["categories": ["no_such"]], ["referrals": ["no_such"]], ["age_band": "toddler"],
                ["gender": "x"], ["outcome": "finished"], ["categories": ["bullying", "bullying"]],
                ["categories": "bullying"], ["age_band": 3], ["categories": (0..<33).map { "c\($0)" }],
            ]
            for body in unknown {
                let r = try await client.call(.put, "/v1/cases/\(first)/record", token: sup, json: body)
                #expect(r.status == .badRequest, "\(body)")
            }
            let empty = try await client.call(.get, "/v1/cases/\(first)/record", token: sup)
            #expect(empty.status == .ok)
            #expect(empty.json["updated_at"] is NSNull)
            #expect((empty.json["categories"] as? [String]) == [])
            #expect(empty.json["inbound_count"] as? Int == 1)
            #expect(empty.json["outbound_count"] as? Int == 0)
            #expect(empty.json["first_response_seconds"] is NSNull)
            // A valid record.
            let body: [String: Any] = [
                "categories": ["bullying", "school_refusal"], "age_band": "junior_high", "gender": "female",
                "outcome": "referred", "referrals": ["child_guidance"],
            ]
            let written = try await client.call(.put, "/v1/cases/\(first)/record", token: sup, json: body)
            #expect(written.status == .ok)
            #expect(written.json["categories"] as? [String] == ["bullying", "school_refusal"])
            #expect(written.json["outcome"] as? String == "referred")
            #expect(written.json["referrals"] as? [String] == ["child_guidance"])
            #expect(written.json["updated_at"] is String)
            #expect(try await Self.entries(f).last?.action == "record.write")
            // Removing a code in use → 409; retiring it works.
            var taxonomy = try await client.call(.get, "/v1/desks/ijime/taxonomy", token: sup).json
            var categories = try #require(taxonomy["categories"] as? [[String: Any]])
            taxonomy["categories"] = categories.filter { $0["code"] as? String != "bullying" }
            let removed = try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, json: taxonomy)
            #expect(removed.status == .conflict)
            taxonomy["referrals"] = (taxonomy["referrals"] as? [[String: Any]] ?? []).filter {
                $0["code"] as? String != "child_guidance"
            }
            categories = categories.map { c in
                var c = c
                if c["code"] as? String == "bullying" { c["retired"] = true }
                return c
            }
            taxonomy["categories"] = categories
            #expect(
                try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, json: taxonomy).status == .conflict)
            taxonomy = try await client.call(.get, "/v1/desks/ijime/taxonomy", token: sup).json
            taxonomy["categories"] = categories
            let retired = try await client.call(.put, "/v1/desks/ijime/taxonomy", token: sup, json: taxonomy)
            #expect(retired.status == .ok)
            // A retired code is refused for a new record, kept on the record that had it.
            let refused = try await client.call(
                .put, "/v1/cases/\(second)/record", token: sup, json: ["categories": ["bullying"]])
            #expect(refused.status == .badRequest)
            #expect(refused.errorMessage?.contains("retired") == true)
            let kept = try await client.call(.put, "/v1/cases/\(first)/record", token: sup, json: body)
            #expect(kept.status == .ok)
            let read = try await client.call(.get, "/v1/cases/\(first)/record", token: sup)
            #expect(read.json["categories"] as? [String] == ["bullying", "school_refusal"])
            #expect(read.json["age_band"] as? String == "junior_high")
            // The coded fields are stored in clear (by design), the text of the messages is not.
            let stored = try await f.vault.database.read { db in
                try String.fetchAll(db, sql: "SELECT code FROM case_record_codes ORDER BY code")
            }
            #expect(stored == ["bullying", "child_guidance", "school_refusal"])
        }
    }

    @Test(
        "record authorization: another desk's staff, the auditor, the admin and a relay get 403, each recorded; a member of the desk reads, only the assignee or a supervisor writes"
    )
    func recordAuthorization() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("相談です"))
            let caseID = try #require(posted.json["case_id"] as? String)
            let path = "/v1/cases/\(caseID)/record"
            let body: [String: Any] = ["categories": ["friends"], "outcome": "concluded"]
            for (who, actor) in [
                ("cou2", "cou2"), ("sup2", "sup2"), ("aud", "aud"), ("adm", "adm"), ("relay", "relay1"),
            ] {
                let token = who == "relay" ? f.relayToken : try await unlockToken(client, f, who)
                for (method, action) in [(HTTPRequest.Method.get, "record.read"), (.put, "record.write")] {
                    let before = try await Self.entries(f).count
                    let r = try await client.call(method, path, token: token, json: method == .put ? body : nil)
                    #expect(r.status == .forbidden, "\(who) \(method)")
                    let added = try await Self.entries(f).dropFirst(before)
                    #expect(added.count == 1, "\(who) \(method)")
                    #expect(added.first?.outcome == .denied && added.first?.actor == actor, "\(who) \(method)")
                    #expect(added.first?.action == action, "\(who) \(method)")
                    #expect(added.first?.target == "case:\(caseID)", "\(who) \(method)")
                }
            }
            // A counselor of the desk reads the record without break-glass but may not write it until assigned.
            let cou = try await unlockToken(client, f, "cou1")
            #expect(try await client.call(.get, path, token: cou).status == .ok)
            #expect(try await client.call(.put, path, token: cou, json: body).status == .forbidden)
            let took = try await client.call(
                .post, "/v1/cases/\(caseID)/assign", token: cou, json: ["assignee": "cou1"])
            #expect(took.status == .ok)
            let written = try await client.call(.put, path, token: cou, json: body)
            #expect(written.status == .ok)
            #expect(written.json["categories"] as? [String] == ["friends"])
            // Another counselor of the same desk still reads it, but cannot write the assigned case.
            let cou4 = try await unlockToken(client, f, "cou4")
            #expect(try await client.call(.get, path, token: cou4).json["outcome"] as? String == "concluded")
            #expect(try await client.call(.put, path, token: cou4, json: body).status == .forbidden)
            // Bad input: no token, a bad case id, an unknown case, malformed JSON, wrong content type.
            #expect(try await client.call(.get, path).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/cases/nope/record", token: cou).status == .badRequest)
            #expect(try await client.call(.get, "/v1/cases/\(ID.v4())/record", token: cou).status == .notFound)
            #expect(try await client.call(.put, path, token: cou, raw: "{").status == .badRequest)
            #expect(
                try await client.call(.put, path, token: cou, raw: "{}", contentType: "text/plain").status
                    == .unsupportedMediaType)
        }
    }

    @Test("computed figures: first response and duration from message times, automatic messages not counted")
    func computedFigures() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let id = try await f.vault.ingest(f.text("一通目"), relay: f.relay, requestID: "t").caseID
        try await f.vault.database.writer.write { db in
            // Shift the stored times: inbound at t0 and t0+50 s, a staff reply at t0+120 s, an automatic one at t0+5 s.
            let t0: Int64 = 1_795_000_000_000
            try db.execute(sql: "UPDATE messages SET sent_at = ? WHERE case_id = ?", arguments: [t0, Data(id.bytes)])
            try db.execute(sql: "UPDATE cases SET opened_at = ? WHERE id = ?", arguments: [t0, Data(id.bytes)])
            let view0 = try Vault.recordView(db, caseID: id)
            #expect(view0.durationSeconds == 0)
            #expect(view0.firstResponseSeconds == nil)
            let template = try Row.fetchOne(
                db, sql: "SELECT * FROM messages WHERE case_id = ?", arguments: [Data(id.bytes)])!
            for (seq, direction, author, at) in [
                (100, "inbound", "channel", t0 + 50_000), (101, "outbound", Vault.automaticAuthor, t0 + 5_000),
                (102, "outbound", "sup", t0 + 120_000), (103, "note", "sup", t0 + 900_000),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO messages (id, case_id, seq, desk_id, epoch_key_id, direction, kind, author, sent_at,
                            body, sealed_key, envelope_hash, written_by, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, 'text', ?, ?, x'00', x'00', zeroblob(32), 'test', 0)
                        """,
                    arguments: [
                        Data(ID.v4().bytes), Data(id.bytes), seq, template["desk_id"] as Data,
                        template["epoch_key_id"] as Data, direction, author, at,
                    ])
            }
            let view = try Vault.recordView(db, caseID: id)
            #expect(view.firstResponseSeconds == 120)
            #expect(view.durationSeconds == 120)
            // Closed: the duration runs to the closing.
            try db.execute(
                sql: "UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?",
                arguments: [t0 + 1_000_000, Data(id.bytes)])
            #expect(try Vault.recordView(db, caseID: id).durationSeconds == 1000)
            #expect(view.inboundCount == 2)
            #expect(view.outboundCount == 1)
        }
    }
}
