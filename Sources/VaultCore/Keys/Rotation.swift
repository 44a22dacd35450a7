import Foundation
import GRDB
import VaultCrypto

extension Vault {
    /// Schedules a rotation of a desk's keys (member removal, user disable) in the caller's transaction.
    func scheduleRotation(_ db: Database, deskID: ID, reason: String) throws {
        try db.execute(
            sql: "INSERT INTO rotation_jobs (desk_id, reason, created_at) VALUES (?, ?, ?)",
            arguments: [Data(deskID.bytes), reason, now()])
    }

    /// Runs every pending rotation job, each in its own transaction (idempotent: a job is marked done in the
    /// transaction that performs it, so a crash leaves it pending and it runs again at the next start).
    /// - Returns: how many jobs ran.
    @discardableResult
    public func runPendingRotations(caller: Caller) async throws -> Int {
        var ran = 0
        while true {
            let didRun: Bool = try await database.transaction { db in
                guard
                    let job = try Row.fetchOne(
                        db, sql: "SELECT id, desk_id FROM rotation_jobs WHERE done_at IS NULL ORDER BY id LIMIT 1"),
                    let deskID = ID(bytes: Array(job["desk_id"] as Data))
                else { return false }
                // Several pending jobs for one desk collapse into one rotation.
                try self.rotateDeskKeys(db, deskID: deskID, caller: caller)
                try db.execute(
                    sql: "UPDATE rotation_jobs SET done_at = ? WHERE desk_id = ? AND done_at IS NULL",
                    arguments: [self.now(), Data(deskID.bytes)])
                return true
            }
            if !didRun { return ran }
            ran += 1
        }
    }

    /// One rotation, in the caller's transaction: new queue and oversight key pairs sealed to the remaining
    /// confirmed members and the recovery key, a vault-signed manifest version, the removed members' wraps
    /// deleted, their cases released to the queue, and a new epoch on every open case. Old desk secrets are
    /// re-sealed under the new keys at a holder's next unlock (`resealRotatedKeys`); no key loses its last wrap.
    ///
    /// Who remains is decided from authenticated state only: the members the current signed manifest lists, less
    /// those whose `desk_members` row is gone (removal) or whose account is no longer active with the keys the
    /// manifest lists. A forged membership row or job can therefore only shrink the desk, never add anyone to it.
    func rotateDeskKeys(_ db: Database, deskID: ID, caller: Caller) throws {
        let desk = try desk(db, id: deskID)
        var members: [DeskManifest.Member] = []
        var memberIDs: [String: ID] = [:]
        for m in desk.manifest.members {
            guard let user = try self.findUser(db, username: m.username),
                try manifestMember(db, desk: desk, user: user) != nil,
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM desk_members WHERE desk_id = ? AND user_id = ? AND state = 'confirmed'",
                    arguments: [Data(deskID.bytes), Data(user.id.bytes)]) == true
            else { continue }
            members.append(m)
            memberIDs[m.username] = user.id
        }
        let generation =
            (try Int.fetchOne(
                db, sql: "SELECT max(generation) FROM desk_keys WHERE desk_id = ?", arguments: [Data(deskID.bytes)])
                ?? 0)
            + 1
        let queue = try BoxKeyPair.generate()
        let oversight = try BoxKeyPair.generate()
        for (kind, pair) in [("queue", queue), ("oversight", oversight)] {
            try db.execute(
                sql: """
                    INSERT INTO desk_keys (key_id, desk_id, kind, generation, public_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [Data(pair.keyID), Data(deskID.bytes), kind, generation, Data(pair.publicKey), now()])
        }
        // The recovery key only once a supervisor vouched for it (DeskFounding.swift).
        let recovery = desk.recoveryVouched ? [desk.manifest.recoveryPublic] : []
        for recipient in members.map(\.boxPublic) + [oversight.publicKey] + recovery {
            try storeWrap(
                db, secret: queue.secretKey, label: .deskQueue, scope: deskID.bytes, keyID: queue.keyID,
                recipient: recipient)
        }
        for recipient in members.filter({ $0.role == .supervisor }).map(\.boxPublic) + recovery {
            try storeWrap(
                db, secret: oversight.secretKey, label: .deskOversight, scope: deskID.bytes, keyID: oversight.keyID,
                recipient: recipient)
        }
        var manifest = desk.manifest
        manifest.version += 1
        manifest.queuePublic = queue.publicKey
        manifest.oversightPublic = oversight.publicKey
        manifest.members = members
        try storeManifest(db, manifest, signer: "vault", signing: keys.signing)

        // Former members lose every wrap of this desk's keys and cases at once.
        let former = Set(desk.manifest.members.map(\.boxPublic)).subtracting(members.map(\.boxPublic))
        for pk in former { try revokeDeskWraps(db, desk: deskID, recipient: pk) }
        // A new epoch on every open case, under the new keys; former members' cases go back to the queue.
        let open = try openCases(db, deskID: deskID)
        var state = try self.desk(db, id: deskID)
        state.manifest = manifest
        let remaining = Set(memberIDs.values)
        for var c in open {
            if let a = c.assigneeID, !remaining.contains(a) { c.assigneeID = nil }
            try startEpoch(db, case: c, desk: state)
        }
        try assertNoOrphanedKeys(db, deskID: deskID)
        try record(db, caller, "key.rotate", "desk:\(desk.name) generation:\(generation)")
    }

    /// Starts the next epoch of a case (whose assignee the caller may just have changed) and saves its state: the
    /// epoch is sealed to the oversight key and to the assignee's key as the signed manifest lists it, or to the
    /// queue key when the case is unassigned. Needs no unlocked secret.
    /// - Throws: `.integrity` when the assignee is not listed in the manifest (nothing is sealed to them).
    func startEpoch(_ db: Database, case c: CaseRow, desk: DeskState) throws {
        let current = try latestEpoch(db, case: c.id)
        var next = c
        next.currentEpoch = current + 1
        var recipient = desk.manifest.queuePublic
        if let a = c.assigneeID {
            guard let user = try self.findUser(db, id: a), let m = try manifestMember(db, desk: desk, user: user)
            else {
                throw VaultError.integrity("a case's assignee is not listed in the desk's signed manifest; refused")
            }
            recipient = m.boxPublic
        }
        let epoch = try createEpoch(db, case: next, epoch: next.currentEpoch)
        try storeEpochWrap(db, epoch, case: next, to: desk.manifest.oversightPublic)
        try storeEpochWrap(db, epoch, case: next, to: recipient)
        try saveCaseState(db, next)
    }

    /// At a holder's unlock: old desk secrets this user can open are re-sealed to the newest key of the same kind;
    /// once that has committed, the old keys' wraps to members are removed (recovery and chain wraps stay).
    /// Only forward: a key is re-sealed to the current one only when the signed manifest chain introduced the
    /// current key after it, so a rolled-back desk state can never seal newer secrets to older keys.
    func resealRotatedKeys(for user: UnlockedUser) async throws {
        let resealed: [[UInt8]] = try await database.transaction { db in
            var done: [[UInt8]] = []
            for deskID in try self.memberDeskIDs(db, user: user) {
                let desk = try self.desk(db, id: deskID)
                let introduced = try self.keyIntroductions(db, desk: desk)
                let newest: [LabelledWrap.Label: [UInt8]] = [
                    .deskQueue: desk.manifest.queuePublic, .deskOversight: desk.manifest.oversightPublic,
                ]
                for (keyID, kind) in try self.deskKeys(db, deskID: deskID) {
                    guard let target = newest[kind], keyID != Hashing.keyID(target),
                        let from = introduced[keyID], let to = introduced[Hashing.keyID(target)], from < to
                    else { continue }
                    if try self.hasWrap(db, keyID: keyID, recipientKeyID: Hashing.keyID(target)) { continue }
                    guard let old = try? self.openDeskKey(db, deskID: deskID, keyID: keyID, as: user) else { continue }
                    try self.storeWrap(
                        db, secret: old.secretKey, label: kind, scope: deskID.bytes, keyID: keyID, recipient: target)
                    done.append(keyID)
                }
            }
            return done
        }
        guard !resealed.isEmpty else { return }
        try await database.transaction { db in
            let memberKeyIDs = try Data.fetchAll(db, sql: "SELECT box_public FROM users WHERE box_public IS NOT NULL")
                .map { Hashing.keyID(Array($0)) }
            for keyID in resealed {
                for recipient in memberKeyIDs { try self.revokeWrap(db, keyID: keyID, recipientKeyID: recipient) }
            }
        }
    }

    /// The first verified manifest version listing each queue and oversight key id of a desk.
    func keyIntroductions(_ db: Database, desk: DeskState) throws -> [[UInt8]: UInt64] {
        var out: [[UInt8]: UInt64] = [:]
        for v in stride(from: Int64(1), through: Int64(desk.manifest.version), by: 1) {
            let m = try verifiedManifest(db, deskID: desk.id, version: v)
            for pk in [m.queuePublic, m.oversightPublic] where out[Hashing.keyID(pk)] == nil {
                out[Hashing.keyID(pk)] = m.version
            }
        }
        return out
    }
}

extension Vault {
    /// Rotates the vault signing key: one checkpoint carries both signatures (old and new), then keys/ gets the new
    /// seed and the new verifier line ahead of the old ones, which keep everything signed before verifiable.
    /// A running `serve` keeps signing with the old key until it restarts; both verify.
    /// - Returns: the new verifier key line.
    public func rotateSigningKey(caller: Caller) async throws -> String {
        let new = try SigningKeyPair.generate()
        try await database.transaction { db in
            try self.record(db, caller, "key.rotate", "vault-signing new:\(Array(new.keyID.prefix(8)).hex)")
            try self.checkpoint(db, force: true, signers: [self.keys.signing, new])
        }
        try VaultKeys.installSigningKey(new, previous: keys, in: Vault.keysDirectory(directory))
        return VaultKeys.verifierKey(name: keys.noteName, publicKey: new.publicKey)
    }
}
