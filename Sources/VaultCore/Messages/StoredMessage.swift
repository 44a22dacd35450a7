import Foundation
import GRDB
import VaultCrypto

/// A sealed message row as stored (cleartext metadata plus the envelope's ciphertexts).
struct StoredMessage: Sendable {
    var id: ID
    var seq: Int
    var epochKeyID: [UInt8]
    var direction: String
    var kind: String
    var author: String
    var sentAt: Int64
    var body: [UInt8]
    var key: [UInt8]
    var retracted: Bool
    var contentState: String?
    var contentType: String?
    var contentSize: Int64?
    var delivery: String?
    /// The relay's ack detail for an outbound reply (e.g. `line:400`).
    var deliveryDetail: String?
    var writtenBy: String?
    /// Version 2: the sender session's id and its stored public key.
    var sessionID: [UInt8]?
    var sessionPublicKey: [UInt8]?

    /// From the transcript query's columns, by position (name lookups cost more than the decryption):
    /// id, seq, epoch_key_id, direction, kind, author, sent_at, body, sealed_key, retracted, written_by,
    /// content_state, content_type, content_size, delivery, delivery_detail, session_id, session_public_key.
    init(transcriptRow row: Row) throws {
        let blob = { (i: Int) throws -> [UInt8] in
            do {
                return try row.decode(BlobColumn.self, atIndex: i).bytes
            } catch {
                throw VaultError.integrity("a message row lacks column \(i)")
            }
        }
        guard let id = ID(bytes: try blob(0)) else { throw VaultError.integrity("a message id is malformed") }
        self.id = id
        self.seq = row[1]
        self.epochKeyID = try blob(2)
        self.direction = row[3]
        self.kind = row[4]
        self.author = row[5]
        self.sentAt = row[6]
        self.body = try blob(7)
        self.key = try blob(8)
        self.retracted = (row[9] as Int? ?? 0) != 0
        self.writtenBy = row[10]
        self.contentState = row[11]
        self.contentType = row[12]
        self.contentSize = row[13]
        self.delivery = row[14]
        self.deliveryDetail = row[15]
        if !row.hasNull(atIndex: 16) { self.sessionID = try blob(16) }
        if !row.hasNull(atIndex: 17) { self.sessionPublicKey = try blob(17) }
    }

    init(row: Row) throws {
        guard let id = ID(bytes: Array(row["id"] as Data)) else {
            throw VaultError.integrity("a message id is malformed")
        }
        self.id = id
        self.seq = row["seq"]
        self.epochKeyID = Array(row["epoch_key_id"] as Data)
        self.direction = row["direction"]
        self.kind = row["kind"]
        self.author = row["author"]
        self.sentAt = row["sent_at"]
        self.body = Array(row["body"] as Data)
        self.key = Array(row["sealed_key"] as Data)
        self.retracted = (row["retracted"] as Int? ?? 0) != 0
        self.contentState = row.hasColumn("content_state") ? row["content_state"] : nil
        self.contentType = row.hasColumn("content_type") ? row["content_type"] : nil
        self.contentSize = row.hasColumn("content_size") ? row["content_size"] : nil
        self.delivery = row.hasColumn("delivery") ? row["delivery"] : nil
        self.deliveryDetail = row.hasColumn("delivery_detail") ? row["delivery_detail"] : nil
        self.writtenBy = row.hasColumn("written_by") ? row["written_by"] : nil
        self.sessionID = row.hasColumn("session_id") ? (row["session_id"] as Data?).map { Array($0) } : nil
    }

    func envelope(caseID: ID) -> Envelope {
        Envelope(
            messageID: id, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind, author: author,
            sentAt: sentAt, body: body, key: key, sessionID: sessionID)
    }
}
