import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Appends an entry stamped now. A free-text `reason` is never stored in clear: it is sealed (see
    /// `sealReason`) to the auditors' key and, when the action concerns a desk, to its oversight key.
    func record(
        _ db: Database, _ caller: Caller, _ action: String, _ target: String, _ outcome: AuditEntry.Outcome = .allowed,
        envelopeHash: [UInt8]? = nil, reason: String? = nil, desk: DeskState? = nil
    ) throws {
        let sealed = try reason.map { try sealReason($0, in: db, desk: desk) }
        let entry = try AuditLog.append(
            AuditEntry(
                time: now(), actor: caller.actor, role: caller.role, action: action, target: target, outcome: outcome,
                requestID: caller.requestID, envelopeHash: envelopeHash, reasonSealed: sealed), in: db,
            memo: database.batchMemo)
        try checkpointIfDue(db, seq: entry.seq)
    }

    /// Seals a free-text reason to the auditors' key and the desk's oversight key:
    /// canonical(seal(auditors), seal(oversight) or empty), each a crypto_box_seal of the UTF-8 reason.
    /// - Throws: `.conflict` when no auditor has enrolled (there is no auditors' key to seal to).
    func sealReason(_ reason: String, in db: Database, desk: DeskState?) throws -> [UInt8] {
        let pk = try auditorsPublicKey(db)
        let text = Array(reason.utf8)
        let forOversight = try desk.map { try SealedBox.seal(text, to: $0.manifest.oversightPublic) } ?? []
        return Canonical.encode([try SealedBox.seal(text, to: pk), forOversight])
    }

    /// The auditors' public key, after checking the vault's signature on it.
    /// - Throws: `.conflict` when no auditor has enrolled; `.integrity` on a bad signature.
    func auditorsPublicKey(_ db: Database) throws -> [UInt8] {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT public_key, signature FROM auditor_keys ORDER BY created_at DESC, rowid DESC LIMIT 1")
        else { throw VaultError.conflict("no auditor has enrolled; reasons cannot be recorded yet") }
        let pk = Array(row["public_key"] as Data)
        guard
            verifyVaultSignature(Array(row["signature"] as Data), auditorsKeyMessage(pk))
        else { throw VaultError.integrity("the auditors' key does not carry the vault's signature") }
        return pk
    }

}
