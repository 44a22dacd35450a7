import Foundation
import GRDB
import VaultCrypto

/// Pseudonym-key rotation: routing ids are keyed hashes of (desk, channel user id) and the real ids are sealed
/// only to each desk's oversight key, so only an unlocked supervisor of a desk can recompute them. While a rotation
/// runs, routing accepts both keys (and moves a case to the new key when its person writes again).
extension Vault {
    /// Starts a rotation: a new keys/pseudonym.key, the old one kept as pseudonym-previous.key. Restart `serve`.
    /// - Throws: `.conflict` while an earlier rotation is unfinished.
    public func rotatePseudonymKey(caller: Caller) async throws {
        guard keys.previousPseudonym == nil else {
            throw VaultError.conflict(
                "a pseudonym rotation is already running: run `desk rehash` for every desk, then `key finish-pseudonym`"
            )
        }
        let oldTag = VaultKeys.pseudonymKeyTag(keys.pseudonym)
        try await database.transaction { db in
            for var c in try self.casesWithoutRoutingKey(db) {
                c.routingKey = oldTag
                try self.saveCaseState(db, c)
            }
            try self.record(db, caller, "key.rotate", "pseudonym started")
        }
        try VaultKeys.installPseudonymKey(try SecretBytes.random(count: 32), in: Vault.keysDirectory(directory))
    }

    /// Recomputes the routing ids of a desk's cases under the new pseudonym key, opening each sealed channel user id
    /// with an oversight key `supervisor` holds.
    /// - Returns: how many cases were rehashed.
    /// - Throws: `.forbidden` for anyone but a confirmed supervisor of the desk.
    public func rehashDesk(name: String, as supervisor: UnlockedUser, requestID: String) async throws -> Int {
        let caller = supervisor.caller(requestID: requestID)
        let newTag = Data(VaultKeys.pseudonymKeyTag(keys.pseudonym))
        let outcome: Result<Int, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, supervisor, else: "only a confirmed supervisor of \(name) rehashes its cases")
            {
                return try self.refuse(db, caller, "key.rotate", "desk:\(name) pseudonym rehash", e)
            }
            let oversight = try self.deskKeys(db, deskID: desk.id).filter { $0.value == .deskOversight }.keys
                .compactMap { try? self.openDeskKey(db, deskID: desk.id, keyID: $0, as: supervisor) }
            let rows = try self.casesNotUnder(db, tag: Array(newTag), deskID: desk.id)
            for (caseID, sealed) in rows {
                guard let opened = oversight.lazy.compactMap({ try? SealedBox.open(sealed, with: $0) }).first else {
                    throw VaultError.integrity(
                        "the channel user id of case \(caseID) opens with no oversight key of \(name)")
                }
                let fields = try opened.withUnsafeBytes { try Canonical.decode(Array($0)) }
                guard fields.count == 4, fields[0] == Array("consultvault/channel-user/v1".utf8),
                    fields[1] == caseID.bytes,
                    fields[2] == desk.id.bytes, let user = String(bytes: fields[3], encoding: .utf8)
                else { throw VaultError.integrity("the sealed channel user id of case \(caseID) is malformed") }
                guard var c = try self.findCase(db, id: caseID) else { continue }
                c.routingID = try self.routingID(desk: desk.id, channelUser: user)
                c.routingKey = Array(newTag)
                try self.saveCaseState(db, c)
            }
            try self.record(db, caller, "key.rotate", "desk:\(name) pseudonym rehash cases:\(rows.count)")
            return .success(rows.count)
        }
        return try outcome.get()
    }

    /// Ends a rotation once every case carries a routing id made with the new key; removes the previous key.
    /// - Throws: `.conflict` naming the desks still to rehash.
    public func finishPseudonymRotation(caller: Caller) async throws {
        guard keys.previousPseudonym != nil else { throw VaultError.conflict("no pseudonym rotation is running") }
        let newTag = Data(VaultKeys.pseudonymKeyTag(keys.pseudonym))
        let pending = try await database.read { db in try self.desksWithCasesNotUnder(db, tag: Array(newTag)) }
        guard pending.isEmpty else {
            throw VaultError.conflict(
                "desks still to rehash by one of their supervisors (`desk rehash --name D --as S`): "
                    + pending.joined(separator: ", "))
        }
        try VaultKeys.removePreviousPseudonymKey(in: Vault.keysDirectory(directory))
        try await database.transaction { db in try self.record(db, caller, "key.rotate", "pseudonym finished") }
    }
}
