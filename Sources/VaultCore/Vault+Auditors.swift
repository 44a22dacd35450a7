import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Opens the auditors' key through the auditor's own wrap; nil when they have not been confirmed into it.
    func openAuditorsKey(_ db: Database, as user: UnlockedUser) throws -> BoxKeyPair? {
        guard
            let keyID = try Data.fetchOne(db, sql: "SELECT key_id FROM auditor_keys ORDER BY created_at DESC LIMIT 1")
                .map({ Array($0) })
        else { return nil }
        if let cached = user.cached(keyID) { return cached }
        guard
            let sealed = try Data.fetchOne(
                db, sql: "SELECT sealed FROM key_wraps WHERE key_id = ? AND recipient_key_id = ?",
                arguments: [Data(keyID), Data(user.box.keyID)])
        else { return nil }
        let pair = try LabelledWrap.openBoxKey(
            Array(sealed), with: user.box, label: .auditors, scope: keys.vaultID.bytes, keyID: keyID)
        user.cache(pair)
        return pair
    }

    /// Opens the auditors' part of a sealed reason (`canonical(seal(auditors), seal(oversight))`).
    func openReason(_ sealed: [UInt8]?, with key: BoxKeyPair?) -> String? {
        guard let sealed, let key, let first = try? Canonical.decode(sealed).first,
            let plain = try? SealedBox.open(first, with: key)
        else { return nil }
        return plain.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Records a denied `action` and throws 403 unless `user` is an auditor.
    func requireAuditor(_ user: UnlockedUser, _ action: String, _ target: String, requestID: String) async throws {
        guard user.role != .auditor else { return }
        try await deny(
            user.caller(requestID: requestID), action, target, .forbidden("only auditors read the access log"))
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
        enum Outcome: Sendable {
            case done
            case denied(VaultError)
        }
        let outcome: Outcome = try await database.transaction { db in
            guard let user = try UserRecord.find(db, username: username) else {
                throw VaultError.notFound("no user \(username)")
            }
            guard user.role == .auditor else { throw VaultError.invalid("\(username) is not an auditor") }
            let keys = try self.verifiedKeys(user)
            guard let mine = try self.openAuditorsKey(db, as: auditor) else {
                try self.record(db, caller, "auditor.confirm", target, .denied)
                return .denied(.forbidden("\(auditor.username) holds no copy of the auditors' key to share"))
            }
            guard UserKeys.normalize(fingerprint) == UserKeys.normalize(keys.fingerprint) else {
                try self.record(db, caller, "auditor.confirm", target, .denied)
                return .denied(
                    .conflict(
                        "the fingerprint does not match \(username)'s keys; nothing was sealed. Compare it with them in person"
                    ))
            }
            try self.storeWrap(
                db, secret: mine.secretKey, label: .auditors, scope: self.keys.vaultID.bytes, keyID: mine.keyID,
                recipient: keys.boxPublic)
            try self.record(db, caller, "auditor.confirm", target)
            return .done
        }
        if case .denied(let error) = outcome { throw error }
    }
}
