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

extension Vault {
    /// Runs `body` for a case the caller works; records the action (or its denial) in the same transaction.
    func withWorkedCase<T: Sendable>(
        _ caseID: ID, user: UnlockedUser, requestID: String, action: String,
        _ body: @escaping @Sendable (Database, CaseRow, DeskState) throws -> T
    ) async throws -> T {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<T, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            if case .denied(let e) = try self.mayWork(db, case: c, user) {
                return try self.refuse(db, caller, action, "case:\(caseID)", e)
            }
            let desk = try self.desk(db, id: c.deskID)
            let result = try body(db, c, desk)
            try self.record(db, caller, action, "case:\(caseID)")
            return .success(result)
        }
        return try outcome.get()
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
                try self.setRisk(db, case: c.id, r)
            }
        }
        notifyCasesChanged([caseID], kind: "case")
    }

    /// Releases a case to the queue: a new queue-readable epoch, and the releaser seals the earlier epochs to the
    /// queue key so the next counselor has the history.
    public func release(_ caseID: ID, as user: UnlockedUser, requestID: String) async throws {
        try await withWorkedCase(caseID, user: user, requestID: requestID, action: "case.release") { db, c, desk in
            guard c.assigneeID != nil else { throw VaultError.conflict("the case is already in the queue") }
            try self.sealEveryEpoch(db, case: c, desk: desk, opener: user, to: desk.manifest.queuePublic)
            if let previous = c.assigneeID, let prev = try self.findUser(db, id: previous), let pk = prev.boxPublic {
                try self.revokeCaseWraps(db, case: c.id, recipient: pk)
            }
            var released = c
            released.assigneeID = nil
            try self.startEpoch(db, case: released, desk: desk)
            try self.assertNoOrphanedKeys(db, deskID: desk.id)
        }
        notifyCasesChanged([caseID], kind: "case")
    }

    /// A note on the case, sealed in the envelope to the current epoch (direction `note`, author the user).
    /// - Returns: the note's message id.
    public func addNote(_ caseID: ID, text: String, as user: UnlockedUser, requestID: String) async throws -> ID {
        guard !text.isEmpty, text.utf8.count <= 65_536 else { throw VaultError.invalid("`text` must be 1–65536 bytes") }
        let sentAt = now()
        let noteID = try await withWorkedCase(caseID, user: user, requestID: requestID, action: "note.write") {
            db, c, _ in
            let current = try self.findCase(db, id: c.id) ?? c
            let epoch = try self.epochKey(db, case: current, epoch: current.currentEpoch)
            let id = ID.v7(milliseconds: sentAt)
            var plaintext = try JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys]).map {
                $0
            }
            defer { SecretBytes.wipe(&plaintext) }
            let (envelope, sessionPublicKey) = try self.sealEnvelope(
                plaintext, messageID: id, caseID: c.id, epochPublicKey: epoch.publicKey, direction: "note",
                kind: "text", author: user.username, sentAt: sentAt)
            try MessageStore.insert(
                db, envelope, sessionPublicKey: sessionPublicKey, case: current, externalID: nil,
                writtenBy: user.username, now: self.now())
            return id
        }
        notifyCasesChanged([caseID], kind: "message")
        return noteID
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
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            let chosen: UserRecord
            let listed: DeskManifest.Member
            switch try self.mayAssign(db, case: c, desk: desk, to: assignee, user) {
            case .failure(let e): return try self.refuse(db, caller, "case.assign", target, e)
            case .success(let found): (chosen, listed) = found
            }
            guard c.assigneeID != chosen.id else { return .success(()) }
            // Sealed only to the key the signed manifest lists for the assignee.
            let assigneeBox = listed.boxPublic
            // Open every earlier epoch with the actor's keys and seal it to the assignee.
            try self.sealEveryEpoch(db, case: c, desk: desk, opener: user, to: assigneeBox)
            let next = c.currentEpoch + 1
            let epoch = try self.createEpoch(db, case: c, epoch: next)
            try self.storeEpochWrap(db, epoch, case: c, to: assigneeBox)
            try self.storeEpochWrap(db, epoch, case: c, to: desk.manifest.oversightPublic)
            // The queue (and a previous assignee) lose the history; the oversight wrap stays.
            for queueKeyID in try self.deskKeys(db, deskID: c.deskID).filter({ $0.value == .deskQueue }).keys {
                try self.revokeCaseWraps(db, case: c.id, recipientKeyID: queueKeyID)
            }
            if let previous = c.assigneeID, let prev = try self.findUser(db, id: previous), let pk = prev.boxPublic {
                try self.revokeCaseWraps(db, case: c.id, recipient: pk)
            }
            try self.assertEveryEpochWrapped(db, case: c.id)
            var assigned = c
            assigned.assigneeID = chosen.id
            assigned.currentEpoch = next
            try self.saveCaseState(db, assigned)
            try self.record(db, caller, "case.assign", "case:\(caseID) user:\(assignee)")
            if selfAssignment {
                try self.record(
                    db, caller, "breakglass.start", "case:\(caseID) self-assign", reason: reason, desk: desk)
                try self.checkpoint(db, force: true)
            }
            return .success(())
        }
        try outcome.get()
        notifyCasesChanged([caseID], kind: "case")
    }
}
