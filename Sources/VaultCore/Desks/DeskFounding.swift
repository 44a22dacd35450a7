import Foundation
import GRDB
import VaultCrypto

/// A desk's recovery key is vouched for by someone other than the admin who created the desk (ops/RUNBOOK.md,
/// "Founding a desk"). `desk add` (an admin) makes the desk's keys and seals them to the founding supervisor only;
/// the recovery key the admin entered is listed in the manifest but receives nothing until a supervisor of the desk
/// accepts the desk by typing the recovery key's fingerprint as the municipality gave it to them (`desk accept`).
/// Only then are the desk's secrets, every generation, sealed to it, and rotations keep sealing to it. An admin
/// alone can therefore never cause desk secrets to be sealed to a key only they hold.
extension Vault {
    /// The fingerprint of a recovery public key (printed by `recovery-key new`): the first 16 bytes of
    /// BLAKE2b-256(canon("consultvault/recovery-key/v1", key)) as 8 space-separated groups of 4 lowercase hex digits.
    public static func recoveryFingerprint(_ publicKey: [UInt8]) -> String {
        let hex = Array(
            Hashing.blake2b(Canonical.encode([Array("consultvault/recovery-key/v1".utf8), publicKey])).prefix(16)
        ).hex
        return stride(from: 0, to: 32, by: 4).map { i in
            String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 4)])
        }.joined(separator: " ")
    }

    /// Creates a desk: queue and oversight key pairs sealed to the founding supervisor (and the queue key to the
    /// oversight key), manifest version 1 signed by the vault and listing the recovery key, which receives no wrap
    /// until a supervisor vouches for it (`acceptDesk`). Refuses until an auditor has enrolled.
    public func addDesk(
        name: String, supervisor: String, recoveryKey: [UInt8], retentionDays: Int?, caller: Caller
    ) async throws {
        // \A…\z, not ^…$: `$` also matches before a final line terminator ("ijime\n", "ijime\u{2028}").
        guard name.range(of: #"\A[a-z0-9][a-z0-9_-]{0,63}\z"#, options: .regularExpression) != nil else {
            throw VaultError.invalid("desk name must be 1–64 characters of a–z, 0–9, '_' or '-'")
        }
        guard recoveryKey.count == 32 else {
            throw VaultError.invalid(
                "--recovery-key must be the base64 X25519 public key printed by `recovery-key new`")
        }
        let retention = retentionDays ?? max(minRetentionDays, 365)
        guard retention >= minRetentionDays else {
            throw VaultError.invalid(
                "retention \(retention) days is below this vault's floor of \(minRetentionDays) days")
        }
        let queue = try BoxKeyPair.generate()
        let oversight = try BoxKeyPair.generate()
        let deskID = ID.v4()
        try await database.transaction { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM auditor_keys") ?? 0 > 0 else {
                throw VaultError.conflict(
                    "no auditor has enrolled yet: run `consultvault user add --role auditor` and `user enroll` first")
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM desks WHERE name = ?", arguments: [name]) == true {
                throw VaultError.conflict("desk \(name) already exists")
            }
            guard let sup = try self.findUser(db, username: supervisor), sup.role == .supervisor,
                sup.state == "active"
            else {
                throw VaultError.conflict("\(supervisor) is not an enrolled supervisor; add and enroll them first")
            }
            let supKeys = try self.verifiedKeys(sup)
            let now = self.now()
            try db.execute(
                sql: """
                    INSERT INTO desks (id, name, recovery_public, retention_days, manifest_version, created_at)
                    VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [Data(deskID.bytes), name, Data(recoveryKey), retention, now])
            try self.authenticateNewRow(db, .desk, table: "desks", key: ("id", Data(deskID.bytes)))
            for (kind, pair) in [("queue", queue), ("oversight", oversight)] {
                try db.execute(
                    sql: """
                        INSERT INTO desk_keys (key_id, desk_id, kind, generation, public_key, created_at)
                        VALUES (?, ?, ?, 1, ?, ?)
                        """,
                    arguments: [Data(pair.keyID), Data(deskID.bytes), kind, Data(pair.publicKey), now])
            }
            for recipient in [supKeys.boxPublic, oversight.publicKey] {
                try self.storeWrap(
                    db, secret: queue.secretKey, label: .deskQueue, scope: deskID.bytes, keyID: queue.keyID,
                    recipient: recipient)
            }
            try self.storeWrap(
                db, secret: oversight.secretKey, label: .deskOversight, scope: deskID.bytes, keyID: oversight.keyID,
                recipient: supKeys.boxPublic)
            let manifest = DeskManifest(
                deskID: deskID, name: name, version: 1, queuePublic: queue.publicKey,
                oversightPublic: oversight.publicKey, relayPublic: [], recoveryPublic: recoveryKey,
                members: [
                    .init(
                        username: supervisor, role: .supervisor, boxPublic: supKeys.boxPublic,
                        signPublic: supKeys.signPublic)
                ])
            try self.storeManifest(db, manifest, signer: "vault", signing: self.keys.signing)
            try db.execute(
                sql: """
                    INSERT INTO desk_members (desk_id, user_id, state, invited_at, confirmed_at, confirmed_by)
                    VALUES (?, ?, 'confirmed', ?, ?, 'vault')
                    """,
                arguments: [Data(deskID.bytes), Data(sup.id.bytes), now, now])
            try self.record(
                db, caller, "desk.add", "desk:\(name) recovery:\(Self.recoveryFingerprint(recoveryKey))")
            try self.record(db, caller, "member.confirm", "desk:\(name) user:\(supervisor)")
        }
    }

    /// A supervisor of the desk (normally the founding one) accepts it, vouching for its recovery key by typing the
    /// fingerprint the municipality gave them: every generation of the desk's queue and oversight secrets they can
    /// open is then sealed to the recovery key, and rotations keep sealing to it.
    /// - Throws: `.conflict` (recorded, nothing sealed) when the fingerprint does not match or it was vouched for
    ///   already; `.forbidden` (recorded) for anyone but a confirmed supervisor of the desk.
    public func acceptDesk(name: String, recoveryFingerprint: String, as user: UnlockedUser, requestID: String)
        async throws
    {
        let caller = user.caller(requestID: requestID)
        let target = "desk:\(name)"
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a confirmed supervisor of \(name) accepts it")
            {
                return try self.refuse(db, caller, "desk.accept", target, e)
            }
            guard !desk.recoveryVouched else {
                throw VaultError.conflict("the recovery key of \(name) has been vouched for already")
            }
            let recovery = desk.manifest.recoveryPublic
            guard UserKeys.normalize(recoveryFingerprint) == UserKeys.normalize(Self.recoveryFingerprint(recovery))
            else {
                return try self.refuse(
                    db, caller, "desk.accept", target,
                    .conflict(
                        "the recovery key fingerprint does not match the key entered at `desk add` for \(name); nothing was sealed. "
                            + "Compare it with the municipality's copy of `recovery-key new`, and do not accept the desk until they match"
                    ))
            }
            for (keyID, kind) in try self.deskKeys(db, deskID: desk.id) {
                let pair = try self.openDeskKey(db, deskID: desk.id, keyID: keyID, as: user)
                try self.storeWrap(
                    db, secret: pair.secretKey, label: kind, scope: desk.id.bytes, keyID: keyID, recipient: recovery)
            }
            try self.updateAuthenticated(
                db, .desk, table: "desks", key: ("id", Data(desk.id.bytes)), fields: Self.deskFields,
                change: ["recovery_vouched_by": user.username])
            try self.record(db, caller, "desk.accept", "\(target) recovery:\(Self.recoveryFingerprint(recovery))")
            return .success(())
        }
        try outcome.get()
    }
}
