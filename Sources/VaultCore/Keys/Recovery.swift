import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Re-seals a desk's keys to enrolled supervisor `username` with the desk's recovery secret (recombined from
    /// K Shamir shares by the caller): every generation of the queue and oversight keys is opened through its
    /// recovery wrap, older ones are chained to the newest, the newest are sealed to the supervisor, who becomes a
    /// confirmed member; a vault-signed manifest version records it.
    /// - Throws: `.forbidden` when the secret is not this desk's recovery key; `.conflict` for a non-supervisor.
    public func recoverDesk(name: String, to username: String, recoverySecret: SecretBytes, caller: Caller) async throws
    {
        let recovery = try BoxKeyPair(secretKey: recoverySecret)
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            guard desk.recoveryVouched else {
                throw VaultError.conflict(
                    "no supervisor of \(name) has vouched for its recovery key (`desk accept`), so no desk secret is sealed to it"
                )
            }
            guard SecretBytes.constantTimeEquals(recovery.publicKey, desk.manifest.recoveryPublic) else {
                return try self.refuse(
                    db, caller, "desk.recover", "desk:\(name) user:\(username)",
                    .forbidden("these shares do not recombine to the recovery key of \(name)"))
            }
            guard let user = try self.findUser(db, username: username), user.role == .supervisor,
                user.state == "active"
            else { throw VaultError.conflict("\(username) is not an enrolled, active supervisor") }
            let target = try self.verifiedKeys(user)
            let newest: [LabelledWrap.Label: [UInt8]] = [
                .deskQueue: desk.manifest.queuePublic, .deskOversight: desk.manifest.oversightPublic,
            ]
            for (keyID, kind) in try self.deskKeys(db, deskID: desk.id) {
                guard let sealed = try self.sealedWrap(db, keyID: keyID, recipientKeyID: recovery.keyID)
                else { throw VaultError.integrity("a desk key has no recovery wrap") }
                let pair = try LabelledWrap.openBoxKey(
                    Array(sealed), with: recovery, label: kind, scope: desk.id.bytes, keyID: keyID)
                guard let newestKey = newest[kind] else { continue }
                let recipient = keyID == Hashing.keyID(newestKey) ? target.boxPublic : newestKey
                try self.storeWrap(
                    db, secret: pair.secretKey, label: kind, scope: desk.id.bytes, keyID: keyID, recipient: recipient)
            }
            let membership = try String.fetchOne(
                db, sql: "SELECT state FROM desk_members WHERE desk_id = ? AND user_id = ?",
                arguments: [Data(desk.id.bytes), Data(user.id.bytes)])
            if membership == nil {
                try db.execute(
                    sql: """
                        INSERT INTO desk_members (desk_id, user_id, state, invited_at, confirmed_at, confirmed_by)
                        VALUES (?, ?, 'confirmed', ?, ?, 'recovery')
                        """, arguments: [Data(desk.id.bytes), Data(user.id.bytes), self.now(), self.now()])
            } else {
                try db.execute(
                    sql:
                        "UPDATE desk_members SET state = 'confirmed', confirmed_at = ?, confirmed_by = 'recovery' WHERE desk_id = ? AND user_id = ?",
                    arguments: [self.now(), Data(desk.id.bytes), Data(user.id.bytes)])
            }
            var manifest = desk.manifest
            manifest.version += 1
            manifest.members.removeAll { $0.username == username }
            manifest.members.append(
                .init(username: username, role: .supervisor, boxPublic: target.boxPublic, signPublic: target.signPublic)
            )
            try self.storeManifest(db, manifest, signer: "vault", signing: self.keys.signing)
            try self.record(db, caller, "desk.recover", "desk:\(name) user:\(username)")
            return .success(())
        }
        try outcome.get()
    }
}
