import Foundation
import GRDB
import VaultCrypto

/// Founding a desk takes two people (ops/RUNBOOK.md, "Founding a desk"): an admin proposes it, naming the founding
/// supervisor and the municipality's recovery public key; the founding supervisor accepts it, typing the recovery
/// key's fingerprint as the municipality gave it to them. Only then are desk keys made and sealed (to that
/// supervisor and the recovery key), so an admin alone can never cause desk secrets to be sealed to a key only they
/// hold, nor make someone a supervisor of a desk without their consent.
extension Vault {
    /// The fingerprint of a recovery public key (printed by `recovery-key new`): the first 16 bytes of its
    /// BLAKE2b-256 as 8 space-separated groups of 4 lowercase hex digits.
    public static func recoveryFingerprint(_ publicKey: [UInt8]) -> String {
        let hex = Array(
            Hashing.blake2b(Canonical.encode([Array("consultvault/recovery-key/v1".utf8), publicKey]))
                .prefix(16)
        ).hex
        return stride(from: 0, to: 32, by: 4).map { i in
            String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 4)])
        }.joined(separator: " ")
    }

    /// Proposes a desk: the row with the recovery key and retention, and the founding supervisor invited. No key
    /// exists until that supervisor accepts (`acceptDesk`). Refuses until an auditor has enrolled.
    public func addDesk(
        name: String, supervisor: String, recoveryKey: [UInt8], retentionDays: Int?, caller: Caller
    ) async throws {
        guard name.range(of: #"^[a-z0-9][a-z0-9_-]{0,63}$"#, options: .regularExpression) != nil else {
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
        let deskID = ID.v4()
        try await database.transaction { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM auditor_keys") ?? 0 > 0 else {
                throw VaultError.conflict(
                    "no auditor has enrolled yet: run `consultvault user add --role auditor` and `user enroll` first")
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM desks WHERE name = ?", arguments: [name]) == true {
                throw VaultError.conflict("desk \(name) already exists")
            }
            guard let sup = try UserRecord.find(db, username: supervisor), sup.role == .supervisor,
                sup.state == "active"
            else {
                throw VaultError.conflict("\(supervisor) is not an enrolled supervisor; add and enroll them first")
            }
            let now = self.now()
            try db.execute(
                sql: """
                    INSERT INTO desks (id, name, recovery_public, retention_days, manifest_version, created_at)
                    VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [Data(deskID.bytes), name, Data(recoveryKey), retention, now])
            try self.authenticateNewRow(db, .desk, table: "desks", key: ("id", Data(deskID.bytes)))
            try db.execute(
                sql: "INSERT INTO desk_members (desk_id, user_id, state, invited_at) VALUES (?, ?, 'invited', ?)",
                arguments: [Data(deskID.bytes), Data(sup.id.bytes), now])
            try self.record(
                db, caller, "desk.add",
                "desk:\(name) supervisor:\(supervisor) recovery:\(Self.recoveryFingerprint(recoveryKey))")
        }
    }

    /// The founding supervisor accepts a proposed desk, vouching for its recovery key by typing its fingerprint:
    /// queue and oversight key pairs are made and sealed to them and the recovery key, and manifest version 1
    /// (listing them) is signed by the vault.
    /// - Throws: `.conflict` (recorded, nothing sealed) when the fingerprint does not match or the desk is accepted;
    ///   `.forbidden` (recorded) for anyone but the proposed founding supervisor.
    public func acceptDesk(name: String, recoveryFingerprint: String, as user: UnlockedUser, requestID: String)
        async throws
    {
        let caller = user.caller(requestID: requestID)
        let target = "desk:\(name)"
        let queue = try BoxKeyPair.generate()
        let oversight = try BoxKeyPair.generate()
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM desks WHERE name = ?", arguments: [name]),
                let deskID = ID(bytes: Array(row["id"] as Data))
            else { throw VaultError.notFound("no desk \(name)") }
            try self.checkAuthenticated(.desk, row, fields: Self.deskFields)
            guard (row["manifest_version"] as Int64) == 0,
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM desk_manifests WHERE desk_id = ?", arguments: [Data(deskID.bytes)])
                    == 0
            else { throw VaultError.conflict("desk \(name) has already been accepted") }
            let invited =
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM desk_members WHERE desk_id = ? AND user_id = ? AND state = 'invited'",
                    arguments: [Data(deskID.bytes), Data(user.id.bytes)]) ?? false
            guard user.role == .supervisor, invited else {
                try self.record(db, caller, "desk.accept", target, .denied)
                return .failure(.forbidden("only the founding supervisor named at `desk add` accepts \(name)"))
            }
            let recovery = Array(row["recovery_public"] as Data)
            guard UserKeys.normalize(recoveryFingerprint) == UserKeys.normalize(Self.recoveryFingerprint(recovery))
            else {
                try self.record(db, caller, "desk.accept", target, .denied)
                return .failure(
                    .conflict(
                        "the recovery key fingerprint does not match the key the admin entered for \(name); nothing was sealed. "
                            + "Compare it with the municipality's copy of `recovery-key new` and ask the admin to propose the desk again"
                    ))
            }
            let now = self.now()
            for (kind, pair) in [("queue", queue), ("oversight", oversight)] {
                try db.execute(
                    sql: """
                        INSERT INTO desk_keys (key_id, desk_id, kind, generation, public_key, created_at)
                        VALUES (?, ?, ?, 1, ?, ?)
                        """,
                    arguments: [Data(pair.keyID), Data(deskID.bytes), kind, Data(pair.publicKey), now])
            }
            for recipient in [user.keys.boxPublic, oversight.publicKey, recovery] {
                try self.storeWrap(
                    db, secret: queue.secretKey, label: .deskQueue, scope: deskID.bytes, keyID: queue.keyID,
                    recipient: recipient)
            }
            for recipient in [user.keys.boxPublic, recovery] {
                try self.storeWrap(
                    db, secret: oversight.secretKey, label: .deskOversight, scope: deskID.bytes, keyID: oversight.keyID,
                    recipient: recipient)
            }
            let manifest = DeskManifest(
                deskID: deskID, name: name, version: 1, queuePublic: queue.publicKey,
                oversightPublic: oversight.publicKey, relayPublic: [], recoveryPublic: recovery,
                members: [
                    .init(
                        username: user.username, role: .supervisor, boxPublic: user.keys.boxPublic,
                        signPublic: user.keys.signPublic)
                ])
            try self.storeManifest(db, manifest, signer: "vault", signing: self.keys.signing)
            try db.execute(
                sql: """
                    UPDATE desk_members SET state = 'confirmed', confirmed_at = ?, confirmed_by = 'founding'
                    WHERE desk_id = ? AND user_id = ?
                    """,
                arguments: [now, Data(deskID.bytes), Data(user.id.bytes)])
            try self.record(db, caller, "desk.accept", target)
            try self.record(db, caller, "member.confirm", "desk:\(name) user:\(user.username)")
            return .success(())
        }
        try outcome.get()
    }
}
