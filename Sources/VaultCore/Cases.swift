import Foundation
import GRDB
import VaultCrypto

/// A case row (metadata only).
struct CaseRow: Sendable {
    var id: ID
    var deskID: ID
    var status: String
    var risk: String
    var assigneeID: ID?
    var currentEpoch: Int
    var messageCount: Int

    init(row: Row) throws {
        guard let id = ID(bytes: Array(row["id"] as Data)), let desk = ID(bytes: Array(row["desk_id"] as Data)) else {
            throw VaultError.integrity("a case row is malformed")
        }
        self.id = id
        self.deskID = desk
        self.status = row["status"]
        self.risk = row["risk"]
        self.assigneeID = (row["assignee_id"] as Data?).flatMap { ID(bytes: Array($0)) }
        self.currentEpoch = row["current_epoch"]
        self.messageCount = row["message_count"]
    }

    /// The columns `init(selected:)` decodes, in its order (for the write path's `SELECT`s).
    static let selection = "id, desk_id, status, risk, assignee_id, current_epoch, message_count"

    /// Decodes a row of `SELECT \(selection)` by position (no per-column name lookup).
    init(selected row: Row) throws {
        guard let id = ID(bytes: Array(row[0] as Data)), let desk = ID(bytes: Array(row[1] as Data)) else {
            throw VaultError.integrity("a case row is malformed")
        }
        self.id = id
        self.deskID = desk
        self.status = row[2]
        self.risk = row[3]
        self.assigneeID = (row[4] as Data?).flatMap { ID(bytes: Array($0)) }
        self.currentEpoch = row[5]
        self.messageCount = row[6]
    }

    static func find(_ db: Database, id: ID) throws -> CaseRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(selection) FROM cases WHERE id = ?"), arguments: [Data(id.bytes)]
        ).map(CaseRow.init(selected:))
    }
}

/// A case epoch key whose vault signature has been checked.
struct EpochKey: Sendable {
    var caseID: ID
    var epoch: Int
    var publicKey: [UInt8]
    var keyID: [UInt8] { Hashing.keyID(publicKey) }

    static func signedMessage(deskID: ID, caseID: ID, epoch: Int, publicKey: [UInt8]) -> [UInt8] {
        Canonical.encode([
            Array("consultvault/case-epoch/v1".utf8), deskID.bytes, caseID.bytes, Canonical.u32(UInt32(epoch)),
            publicKey,
        ])
    }
}

extension Vault {
    /// Verified epoch `epoch` of a case.
    /// - Throws: `VaultError.integrity` when the stored key is not the one the vault signed.
    func epochKey(_ db: Database, case c: CaseRow, epoch: Int) throws -> EpochKey {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT key_id, public_key, signature FROM case_epochs WHERE case_id = ? AND epoch = ?"),
                arguments: [Data(c.id.bytes), epoch])
        else { throw VaultError.integrity("epoch \(epoch) of a case is missing") }
        let pk = Array(row["public_key"] as Data)
        let message = EpochKey.signedMessage(deskID: c.deskID, caseID: c.id, epoch: epoch, publicKey: pk)
        guard Array(row["key_id"] as Data) == Hashing.keyID(pk),
            verifyVaultSignature(Array(row["signature"] as Data), message)
        else {
            throw VaultError.integrity("a case epoch key does not carry the vault's signature; refusing to seal to it")
        }
        return EpochKey(caseID: c.id, epoch: epoch, publicKey: pk)
    }

    /// Creates epoch `epoch` of a case: a fresh key pair signed by the vault; returns the pair (caller seals it).
    func createEpoch(_ db: Database, case c: CaseRow, epoch: Int) throws -> BoxKeyPair {
        let pair = try BoxKeyPair.generate()
        let signature = keys.signing.sign(
            EpochKey.signedMessage(deskID: c.deskID, caseID: c.id, epoch: epoch, publicKey: pair.publicKey))
        try db.execute(
            sql:
                "INSERT INTO case_epochs (key_id, case_id, epoch, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [Data(pair.keyID), Data(c.id.bytes), epoch, Data(pair.publicKey), Data(signature), now()])
        return pair
    }

    func storeEpochWrap(_ db: Database, _ epoch: BoxKeyPair, case c: CaseRow, to recipient: [UInt8]) throws {
        try storeWrap(
            db, secret: epoch.secretKey, label: .caseEpoch, scope: c.id.bytes, keyID: epoch.keyID, recipient: recipient)
    }

    /// Opens an epoch secret as `user`: directly through their own wrap, or through a desk key they hold
    /// (queue or oversight) that the epoch is sealed to. Key possession, not only policy, decides.
    /// - Throws: `.forbidden` when the user holds no path to the key.
    func openEpoch(_ db: Database, keyID: [UInt8], case c: CaseRow, desk: DeskState, as user: UnlockedUser) throws
        -> BoxKeyPair
    {
        if let cached = user.cached(keyID) { return cached }
        let wraps = try Row.fetchAll(
            db,
            sql:
                "SELECT recipient_key_id, sealed, expires_at FROM key_wraps WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)",
            arguments: [Data(keyID), now()])
        let deskKeys = try deskKeys(db, deskID: desk.id)
        for w in wraps {
            let recipient = Array(w["recipient_key_id"] as Data)
            let holder: BoxKeyPair?
            if recipient == user.box.keyID {
                holder = user.box
            } else if deskKeys[recipient] != nil {
                holder = try? openDeskKey(db, deskID: desk.id, keyID: recipient, as: user)
            } else {
                holder = nil
            }
            guard let holder else { continue }
            let pair = try LabelledWrap.openBoxKey(
                Array(w["sealed"] as Data), with: holder, label: .caseEpoch, scope: c.id.bytes, keyID: keyID)
            // A time-limited grant's key is never kept in the session: at expiry nothing of it remains.
            if (w["expires_at"] as Int64?) == nil { user.cache(pair) }
            return pair
        }
        throw VaultError.forbidden("\(user.username) holds no key that opens this part of the case")
    }

    /// Whether `user` is a confirmed member of the desk.
    func isConfirmedMember(_ db: Database, deskID: ID, userID: ID) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT 1 FROM desk_members WHERE desk_id = ? AND user_id = ? AND state = 'confirmed'",
            arguments: [Data(deskID.bytes), Data(userID.bytes)]) ?? false
    }
}
