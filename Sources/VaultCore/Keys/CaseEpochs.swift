import Foundation
import GRDB
import VaultCrypto

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

    /// Creates epoch `epoch` of a case: a key pair (fresh unless `pair` is given: known-answer tests) signed by the
    /// vault; returns the pair, which the caller seals (`storeEpochWrap`).
    @discardableResult
    func createEpoch(_ db: Database, caseID: ID, deskID: ID, epoch: Int, pair given: BoxKeyPair? = nil) throws
        -> BoxKeyPair
    {
        let pair = try given ?? BoxKeyPair.generate()
        let signature = keys.signing.sign(
            EpochKey.signedMessage(deskID: deskID, caseID: caseID, epoch: epoch, publicKey: pair.publicKey))
        try db.execute(
            sql:
                "INSERT INTO case_epochs (key_id, case_id, epoch, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [Data(pair.keyID), Data(caseID.bytes), epoch, Data(pair.publicKey), Data(signature), now()])
        return pair
    }

    /// `createEpoch(_:caseID:deskID:epoch:pair:)` for a loaded case.
    func createEpoch(_ db: Database, case c: CaseRow, epoch: Int) throws -> BoxKeyPair {
        try createEpoch(db, caseID: c.id, deskID: c.deskID, epoch: epoch)
    }

    /// The stored public key of a case epoch (unverified: compared with an already verified key).
    func epochPublicKey(_ db: Database, case caseID: ID, epoch: Int) throws -> [UInt8]? {
        try Data.fetchOne(
            db.cachedStatement(sql: "SELECT public_key FROM case_epochs WHERE case_id = ? AND epoch = ?"),
            arguments: [Data(caseID.bytes), epoch]
        ).map { Array($0) }
    }

    /// The epoch number of key `keyID` in the case, if it is one of the case's epochs.
    func epochNumber(_ db: Database, keyID: [UInt8], case caseID: ID) throws -> Int? {
        try Int.fetchOne(
            db, sql: "SELECT epoch FROM case_epochs WHERE key_id = ? AND case_id = ?",
            arguments: [Data(keyID), Data(caseID.bytes)])
    }

    /// The key ids of every epoch of a case, oldest first.
    func epochKeyIDs(_ db: Database, case caseID: ID) throws -> [[UInt8]] {
        try Data.fetchAll(
            db, sql: "SELECT key_id FROM case_epochs WHERE case_id = ? ORDER BY epoch", arguments: [Data(caseID.bytes)]
        ).map { Array($0) }
    }

    /// The newest epoch number of a case (0 when it has only its first).
    func latestEpoch(_ db: Database, case caseID: ID) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT max(epoch) FROM case_epochs WHERE case_id = ?", arguments: [Data(caseID.bytes)])
            ?? 0
    }
}
