import Foundation
import GRDB
import VaultCrypto

/// A `PATCH /v1/cases/{id}` change.
public struct CaseUpdate: Sendable {
    public var status: String?
    public var risk: String?
    public var hold: Bool?

    public init(status: String? = nil, risk: String? = nil, hold: Bool? = nil) {
        self.status = status
        self.risk = risk
        self.hold = hold
    }

    static let statuses = ["open", "closed"]
    static let risks = ["none", "low", "medium", "high", "imminent"]
}

enum WorkedOutcome<T: Sendable>: Sendable {
    case done(T)
    case denied
}

extension Vault {
    /// Whether `user` works this case: its assignee, or a confirmed supervisor of its desk.
    func isAssigneeOrSupervisor(_ db: Database, case c: CaseRow, user: UnlockedUser) throws -> Bool {
        if c.assigneeID == user.id { return true }
        guard user.role == .supervisor else { return false }
        return try isConfirmedMember(db, deskID: c.deskID, userID: user.id)
    }

    /// Runs `body` for a case the caller works; records the action (or its denial) in the same transaction.
    func withWorkedCase<T: Sendable>(
        _ caseID: ID, user: UnlockedUser, requestID: String, action: String,
        _ body: @escaping @Sendable (Database, CaseRow, DeskState) throws -> T
    ) async throws -> T {
        let caller = user.caller(requestID: requestID)
        let outcome: WorkedOutcome<T> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            guard try self.isAssigneeOrSupervisor(db, case: c, user: user) else {
                try self.record(db, caller, action, "case:\(caseID)", .denied)
                return .denied
            }
            let desk = try self.desk(db, id: c.deskID)
            let result = try body(db, c, desk)
            try self.record(db, caller, action, "case:\(caseID)")
            return .done(result)
        }
        switch outcome {
        case .done(let r): return r
        case .denied: throw VaultError.forbidden("only the assignee or a supervisor of the desk may do this")
        }
    }

    /// Changes status (open/closed), risk and legal hold.
    /// - Throws: `.invalidRequest` for unknown values, `.forbidden` (recorded) for others than assignee/supervisor.
    public func updateCase(_ caseID: ID, _ u: CaseUpdate, as user: UnlockedUser, requestID: String) async throws {
        if let s = u.status, !CaseUpdate.statuses.contains(s) {
            throw VaultError.invalid("status must be open or closed")
        }
        if let r = u.risk, !CaseUpdate.risks.contains(r) {
            throw VaultError.invalid("risk must be one of none, low, medium, high, imminent")
        }
        guard u.status != nil || u.risk != nil || u.hold != nil else {
            throw VaultError.invalid("send at least one of status, risk, hold")
        }
        let now = now()
        try await withWorkedCase(caseID, user: user, requestID: requestID, action: "case.update") { db, c, _ in
            var changed = c
            if let s = u.status {
                changed.status = s
                changed.closedAt = s == "closed" ? now : nil
            }
            if let h = u.hold { changed.hold = h }
            if u.status != nil || u.hold != nil { try self.saveCaseState(db, changed) }
            if let r = u.risk {
                try db.execute(sql: "UPDATE cases SET risk = ? WHERE id = ?", arguments: [r, Data(c.id.bytes)])
            }
        }
    }

    /// Releases a case to the queue: a new queue-readable epoch, and the releaser seals the earlier epochs to the
    /// queue key so the next counselor has the history.
    public func release(_ caseID: ID, as user: UnlockedUser, requestID: String) async throws {
        try await withWorkedCase(caseID, user: user, requestID: requestID, action: "case.release") { db, c, desk in
            guard c.assigneeID != nil else { throw VaultError.conflict("the case is already in the queue") }
            let epochIDs = try Data.fetchAll(
                db, sql: "SELECT key_id FROM case_epochs WHERE case_id = ? ORDER BY epoch",
                arguments: [Data(c.id.bytes)])
            for raw in epochIDs {
                let pair = try self.openEpoch(db, keyID: Array(raw), case: c, desk: desk, as: user)
                try self.storeEpochWrap(db, pair, case: c, to: desk.manifest.queuePublic)
            }
            if let previous = c.assigneeID, let prev = try UserRecord.find(db, id: previous), let pk = prev.boxPublic {
                try db.execute(
                    sql:
                        "DELETE FROM key_wraps WHERE recipient_key_id = ? AND key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)",
                    arguments: [Data(Hashing.keyID(pk)), Data(c.id.bytes)])
            }
            var released = c
            released.assigneeID = nil
            try self.startEpoch(db, case: released, desk: desk)
            try self.assertNoOrphanedKeys(db, deskID: desk.id)
        }
    }

    /// A note on the case, sealed in the envelope to the current epoch (direction `note`, author the user).
    /// - Returns: the note's message id.
    public func addNote(_ caseID: ID, text: String, as user: UnlockedUser, requestID: String) async throws -> ID {
        guard !text.isEmpty, text.utf8.count <= 65_536 else { throw VaultError.invalid("`text` must be 1–65536 bytes") }
        let sentAt = now()
        return try await withWorkedCase(caseID, user: user, requestID: requestID, action: "note.write") { db, c, _ in
            let current = try self.findCase(db, id: c.id) ?? c
            let epoch = try self.epochKey(db, case: current, epoch: current.currentEpoch)
            let id = ID.v7(milliseconds: sentAt)
            var plaintext = try JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys]).map {
                $0
            }
            defer { SecretBytes.wipe(&plaintext) }
            let envelope = try Envelope.seal(
                plaintext: plaintext, messageID: id, caseID: c.id, epochPublicKey: epoch.publicKey, direction: "note",
                kind: "text", author: user.username, sentAt: sentAt)
            try self.insertMessage(db, envelope, case: current, externalID: nil, writtenBy: user.username)
            return id
        }
    }
}

extension Vault {
    /// Assigns a case (a supervisor of the desk, or a counselor taking a queue case for themselves): starts a new
    /// epoch sealed to the assignee and the oversight key, seals the earlier epochs to the assignee, and removes
    /// the queue's (and a previous assignee's) wraps. The oversight wrap always remains.
    /// - Throws: `.forbidden` (recorded) when the caller may not assign or the assignee is not a confirmed member.
    ///
    /// A supervisor assigning a case to themselves reads it from then on, so, like break-glass, it needs a `reason`
    /// (sealed to the auditors and the desk's oversight key) and is recorded as `breakglass.start` as well: it waits
    /// in the auditors' review queue.
    public func assign(
        caseID: ID, to assignee: String, reason: String? = nil, as user: UnlockedUser, requestID: String
    ) async throws {
        let caller = user.caller(requestID: requestID)
        let target = "case:\(caseID) user:\(assignee)"
        let selfAssignment = user.role == .supervisor && assignee == user.username
        if selfAssignment {
            guard let reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096
            else {
                throw VaultError.invalid(
                    "a supervisor assigning a case to themselves must give a `reason` (1–4096 bytes); it is reviewed like break-glass"
                )
            }
        }
        enum Outcome: Sendable {
            case done
            case denied(VaultError)
        }
        let outcome: Outcome = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            let actorIsMember = try self.isConfirmedMember(db, deskID: c.deskID, userID: user.id)
            let mayAssign: Bool
            switch user.role {
            case .supervisor: mayAssign = actorIsMember
            case .counselor: mayAssign = actorIsMember && c.assigneeID == nil && assignee == user.username
            case .auditor, .admin: mayAssign = false
            }
            guard mayAssign, let target = try UserRecord.find(db, username: assignee), target.state == "active",
                target.role == .counselor || target.role == .supervisor,
                let listed = try self.manifestMember(db, desk: desk, user: target)
            else {
                try self.record(db, caller, "case.assign", target, .denied)
                return .denied(
                    .forbidden(
                        mayAssign
                            ? "\(assignee) is not a confirmed member of this desk"
                            : "only a supervisor of the desk assigns; a counselor may only take a queue case for themselves"
                    ))
            }
            guard c.assigneeID != target.id else { return .done }
            // Sealed only to the key the signed manifest lists for the assignee.
            let assigneeBox = listed.boxPublic
            // Open every earlier epoch with the actor's keys and seal it to the assignee.
            let epochIDs = try Data.fetchAll(
                db, sql: "SELECT key_id FROM case_epochs WHERE case_id = ? ORDER BY epoch",
                arguments: [Data(c.id.bytes)])
            for raw in epochIDs {
                let pair = try self.openEpoch(db, keyID: Array(raw), case: c, desk: desk, as: user)
                try self.storeEpochWrap(db, pair, case: c, to: assigneeBox)
            }
            let next = c.currentEpoch + 1
            let epoch = try self.createEpoch(db, case: c, epoch: next)
            try self.storeEpochWrap(db, epoch, case: c, to: assigneeBox)
            try self.storeEpochWrap(db, epoch, case: c, to: desk.manifest.oversightPublic)
            // The queue (and a previous assignee) lose the history; the oversight wrap stays.
            var revoke: [Data] = try Data.fetchAll(
                db, sql: "SELECT key_id FROM desk_keys WHERE desk_id = ? AND kind = 'queue'",
                arguments: [Data(c.deskID.bytes)])
            if let previous = c.assigneeID, let prev = try UserRecord.find(db, id: previous), let pk = prev.boxPublic {
                revoke.append(Data(Hashing.keyID(pk)))
            }
            for r in revoke {
                try db.execute(
                    sql: """
                        DELETE FROM key_wraps WHERE recipient_key_id = ? AND key_id IN
                            (SELECT key_id FROM case_epochs WHERE case_id = ?)
                        """, arguments: [r, Data(c.id.bytes)])
            }
            let orphaned =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM case_epochs e WHERE e.case_id = ?
                        AND NOT EXISTS (SELECT 1 FROM key_wraps w WHERE w.key_id = e.key_id)
                        """, arguments: [Data(c.id.bytes)]) ?? 0
            guard orphaned == 0 else {
                throw VaultError.integrity("assignment would leave an epoch key without a wrap")
            }
            var assigned = c
            assigned.assigneeID = target.id
            assigned.currentEpoch = next
            try self.saveCaseState(db, assigned)
            try self.record(db, caller, "case.assign", "case:\(caseID) user:\(assignee)")
            if selfAssignment {
                try self.record(
                    db, caller, "breakglass.start", "case:\(caseID) self-assign", reason: reason, desk: desk)
                try self.checkpoint(db, force: true)
            }
            return .done
        }
        if case .denied(let e) = outcome { throw e }
    }
}
