import Foundation
import GRDB
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// A case with a row in every table that can hang off a case on desk `ijime`: LINE events (a text, an image with
/// its uploaded content in two chunks, a follow), a reply waiting in the outbox, a note, an approved access request
/// (cou4), a break-glass (sup) and read positions of cou1, cou4 and sup.
struct RichCase {
    static let lineSecret = "0123456789abcdef0123456789abcdef"

    let caseID: ID
    let imageID: ID
    let tag: String

    /// Rows this case has in each table, as the steps below create them.
    static let rows: [String: Int] = [
        "messages": 6, "message_content": 1, "content_chunks": 2, "content_gone": 1, "outbox": 1, "line_events": 4,
        "access_requests": 1, "case_grants": 2, "case_reads": 3,
    ]

    /// What to do with the case at the end.
    enum Ending { case close, closeHeld, keepOpen }

    /// Builds the case for channel user `U-<tag>`; the desk needs its LINE secret and relay key (`prepare`).
    static func make(_ f: Fixture, tag: String, _ ending: Ending) async throws -> RichCase {
        let user = "U-\(tag)"
        let result = try await webhook(
            f,
            [
                event(
                    "message", id: "\(tag)-ev-text", user: user,
                    #","message":{"type":"text","id":"\#(tag)-text","text":"CANARY-\#(tag) たすけて"}"#),
                event(
                    "message", id: "\(tag)-ev-image", user: user,
                    #","message":{"type":"image","id":"\#(tag)-image","contentProvider":{"type":"line"}}"#),
                event("follow", id: "\(tag)-ev-follow", user: user, #","follow":{"isUnblocked":false}"#),
                event(
                    "message", id: "\(tag)-ev-gone", user: user,
                    #","message":{"type":"image","id":"\#(tag)-gone","contentProvider":{"type":"line"}}"#),
            ])
        #expect(result.accepted == 4)
        let imageID = try #require(result.contentPending.first?.messageID)
        // A second image whose content LINE no longer had: marked gone (a `content_gone` row).
        let goneID = try #require(result.contentPending.last?.messageID)
        try await f.vault.markContentGone(messageID: goneID, relay: f.relay, requestID: "gone")
        let upload = try await f.vault.beginContent(
            messageID: imageID, contentType: "image/png", limit: 1 << 20, relay: f.relay, requestID: "put")
        try await upload.append([UInt8](repeating: 0x5A, count: ContentUpload.chunkSize + 100))
        _ = try await upload.finish()
        let stored = try await f.vault.database.read { db in
            try Data.fetchOne(db, sql: "SELECT case_id FROM messages WHERE id = ?", arguments: [Data(imageID.bytes)])
        }
        let caseID = try #require(stored.flatMap { ID(bytes: Array($0)) })
        let cou1 = try await f.unlock("cou1")
        let cou4 = try await f.unlock("cou4")
        let sup = try await f.unlock("sup")
        try await f.vault.assign(caseID: caseID, to: "cou1", as: cou1, requestID: "take")
        _ = try await f.vault.queueReply(caseID: caseID, text: "REPLY-\(tag)", as: cou1, requestID: "reply")
        _ = try await f.vault.addNote(caseID, text: "NOTE-\(tag)", as: cou1, requestID: "note")
        _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 100, as: cou1, requestID: "read")
        let request = try await f.vault.requestAccess(caseID, reason: "cover \(tag)", as: cou4, requestID: "ask")
        try await f.vault.decideAccessRequest(request, approve: true, as: sup, auditRequestID: "approve")
        _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 100, as: cou4, requestID: "read")
        _ = try await f.vault.breakGlass(caseID, reason: "risk \(tag)", as: sup, requestID: "bg")
        _ = try await f.vault.transcript(caseID: caseID, afterSeq: 0, limit: 100, as: sup, requestID: "read")
        switch ending {
        case .close:
            try await f.vault.updateCase(caseID, CaseUpdate(status: "closed"), as: sup, requestID: "close")
        case .closeHeld:
            try await f.vault.updateCase(caseID, CaseUpdate(status: "closed", hold: true), as: sup, requestID: "close")
        case .keepOpen:
            break
        }
        return RichCase(caseID: caseID, imageID: imageID, tag: tag)
    }

    /// The desk's LINE channel secret and relay key, needed before `make`.
    static func prepare(_ f: Fixture) async throws {
        try await f.vault.setLineSecret(
            desk: "ijime", secret: try SecretBytes(copying: Array(lineSecret.utf8)), caller: .cli())
        let sup = try await f.unlock("sup")
        try await f.vault.setRelayKey(
            desk: "ijime", publicKey: try BoxKeyPair.generate().publicKey, supervisor: sup, requestID: "key")
    }

    /// One signed webhook delivery to desk `ijime`.
    static func webhook(_ f: Fixture, _ events: [String]) async throws -> WebhookResult {
        let body = Array(#"{"destination":"Uvault","events":[\#(events.joined(separator: ","))]}"#.utf8)
        let signature = Data(Hashing.hmacSHA256(body, key: try SecretBytes(copying: Array(lineSecret.utf8))))
            .base64EncodedString()
        return try await f.vault.lineWebhook(
            desk: "ijime", body: body, signature: signature, relay: f.relay, requestID: "webhook")
    }

    /// One LINE webhook event from user `user`; `extra` is the event's type-specific JSON members.
    static func event(_ type: String, id: String, user: String, _ extra: String) -> String {
        #"{"type":"\#(type)","mode":"active","timestamp":1795000000123,"source":{"type":"user","userId":"\#(user)"},"webhookEventId":"\#(id)"\#(extra)}"#
    }
}
