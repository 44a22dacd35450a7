import Foundation
import GRDB
import VaultCrypto

/// Key possession, in one place: the owner of `key_wraps` (schema/FORMAT.md §2, labelled wraps). Who can decrypt
/// follows from which wraps exist; every feature that gives, opens or takes away a key goes through here.
extension Vault {
    /// Seals `secret` to `recipient` and stores the wrap (idempotent per key and recipient). A permanent wrap
    /// replaces a time-limited one to the same recipient (a grantee who is then assigned keeps the history when the
    /// grant ends); a time-limited wrap never replaces a permanent one.
    func storeWrap(
        _ db: Database, secret: SecretBytes, label: LabelledWrap.Label, scope: [UInt8], keyID: [UInt8],
        recipient: [UInt8],
        expiresAt: Int64? = nil
    ) throws {
        let sealed = try LabelledWrap.seal(secret, label: label, scope: scope, keyID: keyID, to: recipient)
        try db.execute(
            sql: """
                INSERT INTO key_wraps (key_id, recipient_key_id, label, sealed, expires_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, recipient_key_id) DO UPDATE
                SET sealed = excluded.sealed, expires_at = NULL, label = excluded.label
                WHERE excluded.expires_at IS NULL AND key_wraps.expires_at IS NOT NULL
                """,
            arguments: [Data(keyID), Data(Hashing.keyID(recipient)), label.rawValue, Data(sealed), expiresAt, now()])
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

    /// Opens the desk's current queue or oversight secret as `user`; checks the key id.
    func openDeskKey(_ db: Database, desk: DeskState, kind: LabelledWrap.Label, as user: UnlockedUser) throws
        -> BoxKeyPair
    {
        try openDeskKey(
            db, deskID: desk.id, keyID: kind == .deskQueue ? desk.queueKeyID : desk.oversightKeyID, as: user)
    }

    /// Opens a desk key of any generation: through the user's own wrap, or through a newer key of the same desk
    /// that a rotation re-sealed it to (the chain old → new → member). Checks every recomputed key id.
    /// - Throws: `.forbidden` when the user holds no path to the key.
    func openDeskKey(_ db: Database, deskID: ID, keyID: [UInt8], as user: UnlockedUser, depth: Int = 0) throws
        -> BoxKeyPair
    {
        if let cached = user.cached(keyID) { return cached }
        let keys = try deskKeys(db, deskID: deskID)
        guard let kind = keys[keyID], depth < 8 else {
            throw VaultError.forbidden("\(user.username) holds no key of this desk")
        }
        let wraps = try Row.fetchAll(
            db, sql: "SELECT recipient_key_id, sealed FROM key_wraps WHERE key_id = ?", arguments: [Data(keyID)])
        // Direct wraps first, then wraps to another key of this desk.
        let ordered = wraps.sorted { a, _ in Array(a["recipient_key_id"] as Data) == user.box.keyID }
        for w in ordered {
            let recipient = Array(w["recipient_key_id"] as Data)
            let holder: BoxKeyPair?
            if recipient == user.box.keyID {
                holder = user.box
            } else if keys[recipient] != nil {
                holder = try? openDeskKey(db, deskID: deskID, keyID: recipient, as: user, depth: depth + 1)
            } else {
                holder = nil
            }
            guard let holder else { continue }
            let pair = try LabelledWrap.openBoxKey(
                Array(w["sealed"] as Data), with: holder, label: kind, scope: deskID.bytes, keyID: keyID)
            user.cache(pair)
            return pair
        }
        throw VaultError.forbidden("\(user.username) holds no key of this desk")
    }

    /// Every queue and oversight key id of a desk (all generations) with its wrap label.
    func deskKeys(_ db: Database, deskID: ID) throws -> [[UInt8]: LabelledWrap.Label] {
        var out: [[UInt8]: LabelledWrap.Label] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT key_id, kind FROM desk_keys WHERE desk_id = ?", arguments: [Data(deskID.bytes)])
        {
            out[Array(row["key_id"] as Data)] = (row["kind"] as String) == "queue" ? .deskQueue : .deskOversight
        }
        return out
    }

    /// Seals every epoch of a case, opened with `opener`'s keys, to `recipient` (until `expiresAt`, or for good).
    /// The one way a person is given a case's history: assignment, release to the queue, an approved access request
    /// and a break-glass all call it.
    /// - Throws: `.forbidden` when `opener` holds no path to an epoch (nothing is sealed: the transaction rolls back).
    func sealEveryEpoch(
        _ db: Database, case c: CaseRow, desk: DeskState, opener: UnlockedUser, to recipient: [UInt8],
        expiresAt: Int64? = nil
    ) throws {
        for keyID in try epochKeyIDs(db, case: c.id) {
            let pair = try openEpoch(db, keyID: keyID, case: c, desk: desk, as: opener)
            try storeWrap(
                db, secret: pair.secretKey, label: .caseEpoch, scope: c.id.bytes, keyID: pair.keyID,
                recipient: recipient, expiresAt: expiresAt)
        }
    }

    /// Removes every wrap of the case's epoch keys to `recipient` (a box public key): a former assignee, an
    /// expired grantee, the queue once a case is assigned.
    func revokeCaseWraps(_ db: Database, case caseID: ID, recipient: [UInt8]) throws {
        try revokeCaseWraps(db, case: caseID, recipientKeyID: Hashing.keyID(recipient))
    }

    /// `revokeCaseWraps(_:case:recipient:)` by the recipient's key id.
    func revokeCaseWraps(_ db: Database, case caseID: ID, recipientKeyID: [UInt8]) throws {
        try db.execute(
            sql: """
                DELETE FROM key_wraps WHERE recipient_key_id = ? AND key_id IN
                    (SELECT key_id FROM case_epochs WHERE case_id = ?)
                """, arguments: [Data(recipientKeyID), Data(caseID.bytes)])
    }

    /// Removes every wrap to `recipient` of the desk's keys and of its cases' epoch keys (a former member).
    func revokeDeskWraps(_ db: Database, desk deskID: ID, recipient: [UInt8]) throws {
        try db.execute(
            sql: """
                DELETE FROM key_wraps WHERE recipient_key_id = ? AND (key_id IN
                    (SELECT key_id FROM desk_keys WHERE desk_id = ?) OR key_id IN
                    (SELECT e.key_id FROM case_epochs e JOIN cases c ON c.id = e.case_id WHERE c.desk_id = ?))
                """, arguments: [Data(Hashing.keyID(recipient)), Data(deskID.bytes), Data(deskID.bytes)])
    }

    /// Removes every wrap with `label` to `recipient` (an auditor who leaves loses the auditors' keys).
    func revokeWraps(_ db: Database, label: LabelledWrap.Label, recipient: [UInt8]) throws {
        try db.execute(
            sql: "DELETE FROM key_wraps WHERE recipient_key_id = ? AND label = ?",
            arguments: [Data(Hashing.keyID(recipient)), label.rawValue])
    }

    /// Removes the one wrap of `keyID` to the key with id `recipientKeyID`.
    func revokeWrap(_ db: Database, keyID: [UInt8], recipientKeyID: [UInt8]) throws {
        try db.execute(
            sql: "DELETE FROM key_wraps WHERE key_id = ? AND recipient_key_id = ?",
            arguments: [Data(keyID), Data(recipientKeyID)])
    }

    /// The sealed wrap of `keyID` to the key with id `recipientKeyID`, if one is stored.
    func sealedWrap(_ db: Database, keyID: [UInt8], recipientKeyID: [UInt8]) throws -> [UInt8]? {
        try Data.fetchOne(
            db, sql: "SELECT sealed FROM key_wraps WHERE key_id = ? AND recipient_key_id = ?",
            arguments: [Data(keyID), Data(recipientKeyID)]
        ).map { Array($0) }
    }

    /// Whether `keyID` is wrapped to the key with id `recipientKeyID`.
    func hasWrap(_ db: Database, keyID: [UInt8], recipientKeyID: [UInt8]) throws -> Bool {
        try sealedWrap(db, keyID: keyID, recipientKeyID: recipientKeyID) != nil
    }

    /// Every stored wrap of `keyID` (recipient key id and sealed bytes), including time-limited ones.
    func wraps(_ db: Database, keyID: [UInt8]) throws -> [(recipient: [UInt8], sealed: [UInt8])] {
        try Row.fetchAll(
            db, sql: "SELECT recipient_key_id, sealed FROM key_wraps WHERE key_id = ?", arguments: [Data(keyID)]
        ).map { (recipient: Array($0["recipient_key_id"] as Data), sealed: Array($0["sealed"] as Data)) }
    }

    /// Refuses (rolling back) any state where a desk or epoch key has no wrap left.
    func assertNoOrphanedKeys(_ db: Database, deskID: ID) throws {
        let orphans =
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM desk_keys k WHERE k.desk_id = ?1
                        AND NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = k.key_id))
                    + (SELECT count(*) FROM case_epochs e JOIN cases c ON c.id = e.case_id WHERE c.desk_id = ?1
                        AND NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = e.key_id))
                    """, arguments: [Data(deskID.bytes)]) ?? 0
        guard orphans == 0 else { throw VaultError.integrity("the change would leave a key without any wrap; refused") }
    }

    /// Refuses (rolling back) an assignment that would leave an epoch key of the case without any wrap.
    func assertEveryEpochWrapped(_ db: Database, case caseID: ID) throws {
        let orphaned =
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM case_epochs e WHERE e.case_id = ?
                    AND NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = e.key_id)
                    """, arguments: [Data(caseID.bytes)]) ?? 0
        guard orphaned == 0 else {
            throw VaultError.integrity("assignment would leave an epoch key without a wrap")
        }
    }

    /// The epoch key ids of a case (one argument: the case id).
    private static let caseKeys = "SELECT key_id FROM case_epochs WHERE case_id = ?"

    /// Deletes every wrap of a case's epoch keys and every wrap sealed to one (a purge).
    /// - Returns: how many went.
    static func deleteCaseWraps(_ db: Database, case id: ID) throws -> Int {
        try db.execute(
            sql: "DELETE FROM key_wraps WHERE key_id IN (\(caseKeys)) OR recipient_key_id IN (\(caseKeys))",
            arguments: [Data(id.bytes), Data(id.bytes)])
        return db.changesCount
    }

    /// How many wraps `deleteCaseWraps` would delete.
    static func countCaseWraps(_ db: Database, case id: ID) throws -> Int {
        try Int.fetchOne(
            db,
            sql: "SELECT count(*) FROM key_wraps WHERE key_id IN (\(caseKeys)) OR recipient_key_id IN (\(caseKeys))",
            arguments: [Data(id.bytes), Data(id.bytes)]) ?? 0
    }
}
