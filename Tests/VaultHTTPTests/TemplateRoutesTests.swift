import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VaultHTTP
import VaultTestSupport

@testable import VaultCore

/// Issue 17: desk reply templates (members read, supervisors write, sealed at rest).
@Suite struct TemplateRoutesTests {
    @Test("supervisors create, replace and delete templates; members read them; others are refused; bad input is 400")
    func templates() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let cou = try await unlockToken(client, f, "cou1")
            let path = "/v1/desks/ijime/templates"
            let canary = "ご相談ありがとうございますTPLCANARY"
            let made = try await client.call(.post, path, token: sup, json: ["title": "最初のあいさつ", "text": canary])
            #expect(made.status == .created)
            let id = try #require(made.json["id"] as? String)
            let list = try await client.call(.get, path, token: cou)
            #expect(list.status == .ok)
            let items = try #require(list.json["templates"] as? [[String: Any]])
            #expect(items.count == 1 && items.first?["text"] as? String == canary)
            // Counselors may not write; other desks, the auditor, the admin and the relay may not read.
            #expect(
                try await client.call(.post, path, token: cou, json: ["title": "t", "text": "x"]).status == .forbidden)
            for who in ["cou2", "aud", "adm"] {
                let token = try await unlockToken(client, f, who)
                #expect(try await client.call(.get, path, token: token).status == .forbidden, "\(who)")
            }
            #expect(try await client.call(.get, path, token: f.relayToken).status == .forbidden)
            #expect(try await client.call(.get, path).status == .unauthorized)
            // Bad input.
            for body in [
                ["title": "", "text": "x"], ["title": "t", "text": "   "],
                ["title": "t", "text": String(repeating: "あ", count: 5001)], ["title": 3, "text": "x"], ["text": "x"],
            ] as [[String: Any]] {
                #expect(try await client.call(.post, path, token: sup, json: body).status == .badRequest, "\(body)")
            }
            #expect(try await client.call(.post, path, token: sup, raw: "{").status == .badRequest)
            #expect(
                try await client.call(.put, "\(path)/\(ID.v4())", token: sup, json: ["title": "t", "text": "x"]).status
                    == .notFound)
            #expect(
                try await client.call(.put, "\(path)/nope", token: sup, json: ["title": "t", "text": "x"]).status
                    == .badRequest)
            // Replace, then delete.
            let replaced = try await client.call(
                .put, "\(path)/\(id)", token: sup, json: ["title": "改", "text": "新しい文面"])
            #expect(replaced.status == .ok && replaced.json["text"] as? String == "新しい文面")
            #expect(try await client.call(.get, path, token: cou).json["templates"].map { ($0 as? [Any])?.count } == 1)
            #expect(try await client.call(.delete, "\(path)/\(id)", token: sup).status == .noContent)
            #expect((try await client.call(.get, path, token: cou).json["templates"] as? [Any])?.isEmpty == true)
            // Sealed at rest: the canary is nowhere in the data directory.
            for (file, data) in try f.allBytes() {
                #expect(data.range(of: Data("TPLCANARY".utf8)) == nil, "\(file)")
            }
            let entries = try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
            #expect(entries.filter { $0.action == "template.write" && $0.outcome == .allowed }.count == 3)
        }
    }
}
