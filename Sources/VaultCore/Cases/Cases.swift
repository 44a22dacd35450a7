import Foundation
import GRDB
import VaultCrypto

/// A case row: metadata, and the state that decides who is sealed its keys (desk, routing, status, hold, assignee,
/// current epoch, closed time, the sealed channel user), which is authenticated by `state_mac` (StateMAC).
struct CaseRow: Sendable {
    var id: ID
    var deskID: ID
    var status: String
    var risk: String
    var assigneeID: ID?
    var currentEpoch: Int
    var messageCount: Int
    var routingID: [UInt8]
    var routingKey: [UInt8]?
    var hold: Bool
    var openedAt: Int64
    var closedAt: Int64?
    /// BLAKE2b-256 of the two sealed channel-user blobs, so a re-sealed channel user does not pass the MAC.
    var channelUserDigest: [UInt8]
    var stateMAC: [UInt8]?

    /// The columns `init(selected:)` decodes, in its order (for the write path's `SELECT`s).
    static let selection = """
        id, desk_id, status, risk, assignee_id, current_epoch, message_count, routing_id, routing_key, hold, opened_at, \
        closed_at, channel_user_oversight, channel_user_case, state_mac
        """

    /// Decodes a row of `SELECT \(selection)` by position (no per-column name lookup), without checking its MAC
    /// (listings only show metadata; every action goes through `init(selected:mac:)`).
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
        self.routingID = Array(row[7] as Data)
        self.routingKey = (row[8] as Data?).map { Array($0) }
        self.hold = (row[9] as Int) != 0
        self.openedAt = row[10]
        self.closedAt = row[11]
        self.channelUserDigest = Self.digest(oversight: Array(row[12] as Data), case: Array(row[13] as Data))
        self.stateMAC = (row[14] as Data?).map { Array($0) }
    }

    /// Decodes a `SELECT c.*` row by column name, without checking its MAC (listings only).
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
        self.routingID = Array(row["routing_id"] as Data)
        self.routingKey = (row["routing_key"] as Data?).map { Array($0) }
        self.hold = (row["hold"] as Int) != 0
        self.openedAt = row["opened_at"]
        self.closedAt = row["closed_at"]
        self.channelUserDigest = Self.digest(
            oversight: Array(row["channel_user_oversight"] as Data), case: Array(row["channel_user_case"] as Data))
        self.stateMAC = (row["state_mac"] as Data?).map { Array($0) }
    }

    /// Decodes and authenticates a row of `SELECT \(selection)`.
    /// - Throws: `VaultError.integrity` when the row's MAC does not match.
    init(selected row: Row, mac: StateMAC) throws {
        try self.init(selected: row)
        try mac.check(.caseState, macFields, stateMAC)
    }

    static func digest(oversight: [UInt8], case sealed: [UInt8]) -> [UInt8] {
        Hashing.blake2b(parts: [Canonical.encode([oversight, sealed])])
    }

    /// The authenticated fields, in FORMAT.md §18's order.
    var macFields: [[UInt8]] {
        Self.macFields(
            id: id, deskID: deskID, routingID: routingID, routingKey: routingKey, status: status, hold: hold,
            assigneeID: assigneeID, currentEpoch: currentEpoch, openedAt: openedAt, closedAt: closedAt,
            channelUserDigest: channelUserDigest)
    }

    static func macFields(
        id: ID, deskID: ID, routingID: [UInt8], routingKey: [UInt8]?, status: String, hold: Bool, assigneeID: ID?,
        currentEpoch: Int, openedAt: Int64, closedAt: Int64?, channelUserDigest: [UInt8]
    ) -> [[UInt8]] {
        [
            id.bytes, deskID.bytes, routingID, routingKey ?? [], Array(status.utf8), StateField.flag(hold),
            StateField.id(assigneeID), StateField.int(currentEpoch), StateField.int(openedAt),
            StateField.int(closedAt), channelUserDigest,
        ]
    }

    /// Loads and authenticates a case.
    /// - Throws: `VaultError.integrity` when its MAC does not match.
    static func find(_ db: Database, id: ID, mac: StateMAC) throws -> CaseRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(selection) FROM cases WHERE id = ?"), arguments: [Data(id.bytes)]
        ).map { try CaseRow(selected: $0, mac: mac) }
    }
}

extension Vault {
    /// Loads and authenticates a case (nil when there is none).
    /// - Throws: `VaultError.integrity` when its MAC does not match.
    func findCase(_ db: Database, id: ID) throws -> CaseRow? { try CaseRow.find(db, id: id, mac: stateMAC) }

    /// Writes a case's authenticated state (status, hold, assignee, epoch, closed time, routing) with a fresh MAC.
    /// The only writer of those columns: callers change a `CaseRow` they loaded through `findCase`.
    func saveCaseState(_ db: Database, _ c: CaseRow) throws {
        try db.cachedStatement(
            sql: """
                UPDATE cases SET status = ?, hold = ?, assignee_id = ?, current_epoch = ?, closed_at = ?, routing_id = ?,
                    routing_key = ?, state_mac = ? WHERE id = ?
                """
        ).execute(arguments: [
            c.status, c.hold, c.assigneeID.map { Data($0.bytes) }, c.currentEpoch, c.closedAt, Data(c.routingID),
            c.routingKey.map { Data($0) }, Data(stateMAC.tag(.caseState, c.macFields)), Data(c.id.bytes),
        ])
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

    /// Whether a user is a confirmed member of the desk: listed in the desk's verified manifest under their name and
    /// role with their attested keys, and active. The `desk_members` rows are not consulted (a database writer could
    /// forge them); only the signed manifest says who belongs.
    func isConfirmedMember(_ db: Database, deskID: ID, userID: ID) throws -> Bool {
        guard let user = try UserRecord.find(db, id: userID), user.state == "active" else { return false }
        return try manifestMember(db, desk: desk(db, id: deskID), user: user) != nil
    }

    /// The manifest entry of an active user whose attested keys it lists, or nil.
    func manifestMember(_ db: Database, desk: DeskState, user: UserRecord) throws -> DeskManifest.Member? {
        guard user.state == "active", let m = desk.manifest.member(user.username), m.role == user.role,
            let keys = try? verifiedKeys(user), keys.boxPublic == m.boxPublic, keys.signPublic == m.signPublic
        else { return nil }
        return m
    }

    /// Ids of the desks whose verified manifests list `user` (for listings).
    func memberDeskIDs(_ db: Database, user: UnlockedUser) throws -> [ID] {
        var out: [ID] = []
        for raw in try Data.fetchAll(db, sql: "SELECT id FROM desks ORDER BY name") {
            guard let id = ID(bytes: Array(raw)), let desk = try? desk(db, id: id),
                let m = desk.manifest.member(user.username), m.role == user.role,
                m.signPublic == user.keys.signPublic
            else { continue }
            out.append(id)
        }
        return out
    }
}
