import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Opens every generation of the auditors' key `user` can reach, newest first; nil when they hold no copy of the
    /// newest. The newest opens through their own wrap; each older one through their own wrap or a chain wrap sealed
    /// to a newer generation. An older generation opened through the auditor's own wrap and not yet chained to the
    /// newest is chained now (sealed to the newest public key once its vault signature checks), so that auditors
    /// confirmed after a rotation read the older reasons too (schema/FORMAT.md §6.2). Call it in a write transaction.
    func openAuditorsKey(_ db: Database, as user: UnlockedUser) throws -> AuditorsKeyring? {
        let ids = try auditorsKeyIDs(db)
        guard let newestID = ids.first else { return nil }
        let newest: BoxKeyPair
        if let cached = user.cached(newestID) {
            newest = cached
        } else {
            guard let sealed = try sealedWrap(db, keyID: newestID, recipientKeyID: user.box.keyID) else { return nil }
            newest = try LabelledWrap.openBoxKey(
                sealed, with: user.box, label: .auditors, scope: keys.vaultID.bytes, keyID: newestID)
            user.cache(newest)
        }
        var ring = [newest]
        for keyID in ids.dropFirst() {
            let wraps = try self.wraps(db, keyID: keyID)
            let holders = [user.box] + ring
            var opened: (pair: BoxKeyPair, direct: Bool)?
            for w in wraps {
                guard let holder = holders.first(where: { $0.keyID == w.recipient }),
                    let pair = try? LabelledWrap.openBoxKey(
                        w.sealed, with: holder, label: .auditors, scope: keys.vaultID.bytes, keyID: keyID)
                else { continue }
                opened = (pair, holder.keyID == user.box.keyID)
                break
            }
            guard let opened else { continue }
            if opened.direct, !wraps.contains(where: { $0.recipient == newest.keyID }) {
                let pk = try auditorsPublicKey(db)
                if Hashing.keyID(pk) == newest.keyID {
                    try storeWrap(
                        db, secret: opened.pair.secretKey, label: .auditors, scope: keys.vaultID.bytes, keyID: keyID,
                        recipient: pk)
                }
            }
            ring.append(opened.pair)
        }
        return AuditorsKeyring(keys: ring)
    }

    /// Opens the auditors' part of a sealed reason (`canonical(seal(auditors), seal(oversight))`) with whichever
    /// generation of the auditors' key it was sealed to.
    func openReason(_ sealed: [UInt8]?, with ring: AuditorsKeyring?) -> String? {
        guard let sealed, let ring, let first = try? Canonical.decode(sealed).first else { return nil }
        for key in ring.keys {
            if let plain = try? SealedBox.open(first, with: key) {
                return plain.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            }
        }
        return nil
    }

    /// Auditor `auditor` (unlocked) seals the auditors' key to enrolled auditor `username`, only when
    /// `fingerprint` matches their attested keys (`audit confirm-auditor`).
    /// - Throws: `.forbidden` for a non-auditor or an auditor without the key, `.conflict` on a fingerprint
    ///   mismatch (recorded, nothing sealed), `.notFound` for an unknown user.
    public func confirmAuditor(username: String, fingerprint: String, as auditor: UnlockedUser, requestID: String)
        async throws
    {
        let caller = auditor.caller(requestID: requestID)
        let target = "user:\(username)"
        try await requireAuditor(auditor, "auditor.confirm", target, requestID: requestID)
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let user = try self.findUser(db, username: username) else {
                throw VaultError.notFound("no user \(username)")
            }
            guard user.role == .auditor else { throw VaultError.invalid("\(username) is not an auditor") }
            let keys = try self.verifiedKeys(user)
            guard let mine = try self.openAuditorsKey(db, as: auditor) else {
                return try self.refuse(
                    db, caller, "auditor.confirm", target,
                    .forbidden("\(auditor.username) holds no copy of the auditors' key to share"))
            }
            guard UserKeys.normalize(fingerprint) == UserKeys.normalize(keys.fingerprint) else {
                return try self.refuse(
                    db, caller, "auditor.confirm", target,
                    .conflict(
                        "the fingerprint does not match \(username)'s keys; nothing was sealed. Compare it with them in person"
                    ))
            }
            try self.storeWrap(
                db, secret: mine.newest.secretKey, label: .auditors, scope: self.keys.vaultID.bytes,
                keyID: mine.newest.keyID, recipient: keys.boxPublic)
            try self.record(db, caller, "auditor.confirm", target)
            return .success(())
        }
        try outcome.get()
    }
}
