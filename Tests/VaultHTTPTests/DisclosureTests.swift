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

/// Issue 20: disclosure packages, end to end over HTTP, opened with Debian's `age`.
@Suite struct DisclosureTests {
    static let marker = "開示マーカー-7731-<b>&\"児童\""
    static let media: [UInt8] = Array("JPEGBYTES-開示-media-4412".utf8) + (0..<3000).map { UInt8($0 % 251) }

    static func entries(_ f: Fixture) async throws -> [AuditEntry] {
        try await f.vault.database.read { try AuditLog.entries(in: $0, limit: 100_000) }
    }

    /// sup2 becomes a second supervisor of ijime (invited, confirmed by sup).
    static func secondSupervisor(_ f: Fixture) async throws {
        try await f.vault.invite(desk: "ijime", username: "sup2", caller: Caller.cli())
        let sup = try await f.unlock("sup")
        try await f.vault.confirm(
            desk: "ijime", username: "sup2", fingerprint: f.fingerprints["sup2"]!, supervisor: sup, requestID: "t")
    }

    static func keygen(_ dir: URL) throws -> (key: URL, recipient: String) {
        let key = dir.appendingPathComponent("key.txt")
        #expect(try AgeTool.run("age-keygen", ["-o", key.path]).status == 0)
        let r = try AgeTool.run("age-keygen", ["-y", key.path]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        return (key, r)
    }

    @Test(
        "a disclosure: request, two-person approval, one download that age -d opens; manifest, hashes and signature verify; every step logged; nothing in clear on disk"
    )
    func fullFlow() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await Self.secondSupervisor(f)
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (keyURL, recipient) = try Self.keygen(dir)
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let sup2 = try await unlockToken(client, f, "sup2")
            let cou = try await unlockToken(client, f, "cou1")
            let aud = try await unlockToken(client, f, "aud")
            let adm = try await unlockToken(client, f, "adm")
            let (mid, cid) = try await ContentTests.imageMessage(client, f)
            #expect(
                try await ContentTests.put(
                    client, "/v1/messages/\(mid)/content", token: f.relayToken, bytes: Self.media
                ).status == .created)
            let note = try await client.call(.post, "/v1/cases/\(cid)/notes", token: sup, json: ["text": Self.marker])
            #expect(note.status == .created)
            let coded = try await client.call(
                .put, "/v1/cases/\(cid)/record", token: sup, json: ["categories": ["bullying"], "gender": "female"])
            #expect(coded.status == .ok, "\(coded.json)")
            let body: [String: Any] = ["recipient": recipient, "recipient_name": "〇〇県警察 生活安全課", "reason": "児童の安全確認のため"]

            // Counselor, auditor, admin: 403, recorded as denied.
            for token in [cou, aud, adm] {
                let before = try await Self.entries(f).count
                let r = try await client.call(.post, "/v1/cases/\(cid)/disclosures", token: token, json: body)
                #expect(r.status == .forbidden)
                let added = try await Self.entries(f).dropFirst(before)
                #expect(added.map(\.action) == ["disclosure.request"] && added.first?.outcome == .denied)
            }
            let created = try await client.call(.post, "/v1/cases/\(cid)/disclosures", token: sup, json: body)
            #expect(created.status == .created)
            #expect(created.json["state"] as? String == "pending")
            let id = try #require(created.json["id"] as? String)

            // The requester cannot approve (403, recorded); nobody downloads before approval.
            let own = try await client.call(.post, "/v1/disclosures/\(id)/approve", token: sup)
            #expect(own.status == .forbidden)
            let last = try await Self.entries(f).last
            #expect(last?.action == "disclosure.approve" && last?.outcome == .denied)
            #expect(try await client.call(.get, "/v1/disclosures/\(id)/package", token: sup).status == .conflict)
            let listed = try await client.call(.get, "/v1/disclosures?desk=ijime", token: sup2)
            #expect(listed.status == .ok)
            let items = try #require(listed.json["disclosures"] as? [[String: Any]])
            #expect(items.first?["id"] as? String == id && items.first?["state"] as? String == "pending")
            #expect(items.first?["reason"] as? String == "児童の安全確認のため")
            #expect(try await client.call(.get, "/v1/disclosures", token: cou).status == .forbidden)

            let approved = try await client.call(.post, "/v1/disclosures/\(id)/approve", token: sup2)
            #expect(approved.status == .ok, "\(approved.json)")
            #expect(approved.json["state"] as? String == "approved" && approved.json["decided_by"] as? String == "sup2")
            // The approver's build grant ends with the build: no reading the case afterwards.
            #expect(try await client.call(.get, "/v1/cases/\(cid)/messages", token: sup2).status == .forbidden)
            #expect(
                try await Self.entries(f).contains { $0.action == "breakglass.expire" && $0.target == "case:\(cid)" })
            #expect(try await client.call(.post, "/v1/disclosures/\(id)/approve", token: sup2).status == .conflict)
            #expect(try await client.call(.post, "/v1/disclosures/\(id)/decline", token: sup2).status == .conflict)

            // Only ciphertext is stored, and no plaintext anywhere in the data directory.
            let stored = try Data(contentsOf: f.vault.disclosurePackageURL(try #require(ID(id))))
            #expect(stored.starts(with: Array("age-encryption.org/v1\n".utf8)))
            for (path, bytes) in try f.allBytes() {
                #expect(bytes.range(of: Data(Self.marker.utf8)) == nil, "\(path)")
                #expect(bytes.range(of: Data("JPEGBYTES-開示".utf8)) == nil, "\(path)")
            }

            // Anyone but the requester: 403; the requester once; again 409.
            #expect(try await client.call(.get, "/v1/disclosures/\(id)/package", token: sup2).status == .forbidden)
            #expect(try await client.call(.get, "/v1/disclosures/\(id)/package", token: cou).status == .forbidden)
            let download = try await client.call(.get, "/v1/disclosures/\(id)/package", token: sup)
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(try await client.call(.get, "/v1/disclosures/\(id)/package", token: sup).status == .conflict)
            #expect(!FileManager.default.fileExists(atPath: f.vault.disclosurePackageURL(try #require(ID(id))).path))

            // Debian's age opens it with the age-keygen identity.
            let packageURL = dir.appendingPathComponent("package.age")
            try download.body.write(to: packageURL)
            let zipURL = dir.appendingPathComponent("package.zip")
            let opened = try AgeTool.run("age", ["-d", "-i", keyURL.path, "-o", zipURL.path, packageURL.path])
            #expect(opened.status == 0, "\(opened.err)")
            let entries = try PackageCheck.entries(try Data(contentsOf: zipURL))
            #expect(
                try PackageCheck.verify(entries, signingKeys: [f.vault.keys.signing.publicKey]) == entries.count - 2)
            #expect(
                Set(entries.keys).isSuperset(of: [
                    "transcript.json", "transcript.html", "notes.json", "record.json", "manifest.json", "manifest.sig",
                ]))
            #expect(entries["media/\(mid).jpg"] == Self.media)
            let transcript =
                try JSONSerialization.jsonObject(with: Data(try #require(entries["transcript.json"]))) as? [String: Any]
            #expect(transcript?["case_id"] as? String == cid)
            let messages = try #require(transcript?["messages"] as? [[String: Any]])
            #expect(messages.contains { $0["text"] as? String == Self.marker })
            #expect(messages.contains { $0["id"] as? String == mid && $0["kind"] as? String == "image" })
            let html = String(decoding: try #require(entries["transcript.html"]), as: UTF8.self)
            #expect(html.contains("<html lang=\"ja\">") && html.contains("開示マーカー-7731-&lt;b&gt;&amp;&quot;児童&quot;"))
            #expect(!html.contains("<b>") && !html.contains("src=") && !html.contains("href="))
            let notes = String(decoding: try #require(entries["notes.json"]), as: UTF8.self)
            #expect(notes.contains("開示マーカー-7731"))
            // record.json: the case's coded record (issue 17) and its state.
            let record =
                try JSONSerialization.jsonObject(with: Data(try #require(entries["record.json"]))) as? [String: Any]
            let fields = record?["record"] as? [String: Any]
            #expect(record?["case_id"] as? String == cid && record?["status"] as? String == "open")
            #expect(fields?["categories"] as? [String] == ["bullying"] && fields?["gender"] as? String == "female")
            #expect(fields?["inbound_count"] as? Int == 1 && fields?["updated_at"] is String)
            // A tampered entry fails the check, naming it.
            var tampered = entries
            tampered["notes.json"]?[0] ^= 1
            #expect(throws: VaultError.self) {
                try PackageCheck.verify(tampered, signingKeys: [f.vault.keys.signing.publicKey])
            }
            #expect(throws: VaultError.self) {
                try PackageCheck.verify(entries, signingKeys: [try BoxKeyPair.generate().publicKey])
            }

            // Every step is in the log.
            let log = try await Self.entries(f)
            for action in [
                "disclosure.request", "disclosure.approve", "transcript.read", "content.read", "disclosure.download",
            ] {
                #expect(log.contains { $0.action == action && $0.outcome == .allowed }, "\(action)")
            }
            #expect(
                log.filter { $0.action == "disclosure.download" }.map(\.outcome) == [
                    .denied, .denied, .denied, .allowed, .denied,
                ])

            // The auditors' queue shows it with its reason; a review once; supervisors may not read the queue.
            let queue = try await client.call(.get, "/v1/audit/disclosures", token: aud)
            #expect(queue.status == .ok)
            let q = try #require((queue.json["disclosures"] as? [[String: Any]])?.first)
            #expect(
                q["id"] as? String == id && q["state"] as? String == "downloaded"
                    && q["reason"] as? String == "児童の安全確認のため")
            #expect(try await client.call(.get, "/v1/audit/disclosures", token: sup).status == .forbidden)
            let review = try await client.call(
                .post, "/v1/audit/disclosures/\(id)/review", token: aud, json: ["comment": "確認済み"])
            #expect(review.status == .ok && review.json["reviewed_by"] as? String == "aud")
            #expect(
                try await client.call(
                    .post, "/v1/audit/disclosures/\(id)/review", token: aud, json: ["comment": "again"]
                ).status == .conflict)
            #expect(try await Self.entries(f).contains { $0.action == "disclosure.review" && $0.outcome == .allowed })

            // Decline: the requester may withdraw; a declined one is not approvable.
            let second = try await client.call(.post, "/v1/cases/\(cid)/disclosures", token: sup, json: body)
            let id2 = try #require(second.json["id"] as? String)
            let declined = try await client.call(.post, "/v1/disclosures/\(id2)/decline", token: sup2)
            #expect(declined.status == .ok && declined.json["state"] as? String == "declined")
            #expect(try await client.call(.post, "/v1/disclosures/\(id2)/approve", token: sup2).status == .conflict)
            #expect(try await client.call(.get, "/v1/disclosures/\(id2)/package", token: sup).status == .conflict)
            #expect(try await Self.entries(f).contains { $0.action == "disclosure.decline" && $0.outcome == .allowed })

            // After the run: still no plaintext of the package anywhere in the data directory.
            for (path, bytes) in try f.allBytes() {
                #expect(bytes.range(of: Data(Self.marker.utf8)) == nil, "\(path)")
                #expect(bytes.range(of: Data("JPEGBYTES-開示".utf8)) == nil, "\(path)")
                #expect(bytes.range(of: Data("manifest.json".utf8)) == nil, "\(path)")
            }
        }
    }

    @Test("bad input: malformed recipient, oversize reason, empty name, unknown ids, unauthenticated, bad uuid")
    func badInput() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let recipient = try AgeIdentity.generate().recipient.description
        try await makeApp(f).test(.router) { client in
            let sup = try await unlockToken(client, f, "sup")
            let aud = try await unlockToken(client, f, "aud")
            let cid = try await f.vault.ingest(f.text("相談です"), relay: f.relay, requestID: "r").caseID.description
            func create(_ body: [String: Any], token: String? = sup, caseID: String = cid) async throws
                -> HTTPResponse.Status
            {
                try await client.call(.post, "/v1/cases/\(caseID)/disclosures", token: token, json: body).status
            }
            let good: [String: Any] = ["recipient": recipient, "recipient_name": "児童相談所", "reason": "理由"]
            var bad = good
            for r in [
                "", "age1", String(recipient.dropLast()) + (recipient.last == "q" ? "p" : "q"), recipient.uppercased(),
                "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0", recipient + "q",
            ] {
                bad["recipient"] = r
                #expect(try await create(bad) == .badRequest, "\(r)")
            }
            bad = good
            bad["reason"] = String(repeating: "あ", count: 2000)
            #expect(try await create(bad) == .badRequest)
            bad["reason"] = "  "
            #expect(try await create(bad) == .badRequest)
            bad = good
            bad["recipient_name"] = ""
            #expect(try await create(bad) == .badRequest)
            bad["recipient_name"] = String(repeating: "名", count: 201)
            #expect(try await create(bad) == .badRequest)
            #expect(try await create(["recipient": recipient]) == .badRequest)
            #expect(try await create(good, caseID: ID.v4().description) == .notFound)
            #expect(try await create(good, caseID: "not-a-uuid") == .badRequest)
            #expect(try await create(good, token: nil) == .unauthorized)
            let unknown = ID.v4().description
            for (method, path, token) in [
                (HTTPRequest.Method.post, "/v1/disclosures/\(unknown)/approve", sup),
                (.post, "/v1/disclosures/\(unknown)/decline", sup), (.get, "/v1/disclosures/\(unknown)/package", sup),
            ] {
                #expect(try await client.call(method, path, token: token).status == .notFound, "\(path)")
                #expect(try await client.call(method, path).status == .unauthorized, "\(path)")
            }
            #expect(
                try await client.call(
                    .post, "/v1/audit/disclosures/\(unknown)/review", token: aud, json: ["comment": "c"]
                ).status == .notFound)
            #expect(try await client.call(.post, "/v1/disclosures/xyz/approve", token: sup).status == .badRequest)
            #expect(try await client.call(.get, "/v1/disclosures?desk=gyakutai", token: sup).status == .forbidden)
            #expect(try await create(good) == .created)
        }
    }
}
