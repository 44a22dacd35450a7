import Foundation
import GRDB
import VaultCrypto

/// Every generation of the auditors' key an auditor can open, newest first. Reasons are sealed to the newest
/// generation; older reasons open with the older ones (schema/FORMAT.md §6.2).
struct AuditorsKeyring: Sendable {
    /// Newest first; `keys[0]` is the key reasons are sealed to now.
    let keys: [BoxKeyPair]

    var newest: BoxKeyPair { keys[0] }
}

extension Vault {
    /// Generations of the auditors' key, newest first (`created_at`, then insertion order).
    func auditorsKeyIDs(_ db: Database) throws -> [[UInt8]] {
        try Data.fetchAll(db, sql: "SELECT key_id FROM auditor_keys ORDER BY created_at DESC, rowid DESC").map {
            Array($0)
        }
    }

    /// Makes a new vault-signed auditors' key and seals it to `recipients` (in the caller's transaction).
    func storeAuditorsKey(_ db: Database, recipients: [UserKeys]) throws {
        let pair = try BoxKeyPair.generate()
        let signature = keys.signing.sign(auditorsKeyMessage(pair.publicKey))
        try db.execute(
            sql: "INSERT INTO auditor_keys (key_id, public_key, signature, created_at) VALUES (?, ?, ?, ?)",
            arguments: [Data(pair.keyID), Data(pair.publicKey), Data(signature), now()])
        for r in recipients {
            try storeWrap(
                db, secret: pair.secretKey, label: .auditors, scope: keys.vaultID.bytes, keyID: pair.keyID,
                recipient: r.boxPublic)
        }
    }

    /// When auditor `removed` is disabled: their wraps of every auditors' key go, and a new generation is made and
    /// sealed to every remaining active auditor who holds the current one, so reasons recorded from now on are
    /// sealed to a key the removed auditor never had. Older generations are chained to the new one (sealed to its
    /// public key) at a remaining auditor's next use of the key (`openAuditorsKey`), since nobody needs to be
    /// unlocked to disable a user. With no remaining holder the new key has no wrap: the next auditor to enroll
    /// makes a fresh generation (see `enroll`), and reasons sealed in between stay unreadable to auditors (the desk
    /// oversight copy still opens them).
    func rotateAuditorsKey(_ db: Database, removing removed: UserRecord) throws {
        guard let current = try auditorsKeyIDs(db).first else { return }
        if let pk = removed.boxPublic { try revokeWraps(db, label: .auditors, recipient: pk) }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT * FROM users WHERE role = 'auditor' AND state = 'active' AND id != ? AND box_public IS NOT NULL
                """, arguments: [Data(removed.id.bytes)])
        let holders = try rows.compactMap { try authenticatedUser($0) }.map { try verifiedKeys($0) }.filter { u in
            try hasWrap(db, keyID: current, recipientKeyID: u.boxKeyID)
        }
        try storeAuditorsKey(db, recipients: holders)
    }

    /// Whether any active auditor holds a wrap of the newest auditors' key (false before the first enrollment).
    func auditorsKeyHasHolder(_ db: Database) throws -> Bool {
        guard let newest = try auditorsKeyIDs(db).first else { return false }
        let auditors = try Row.fetchAll(
            db, sql: "SELECT * FROM users WHERE role = 'auditor' AND state = 'active' AND box_public IS NOT NULL"
        ).compactMap { try authenticatedUser($0)?.boxPublic }
        return try auditors.contains { pk in try hasWrap(db, keyID: newest, recipientKeyID: Hashing.keyID(pk)) }
    }
}
