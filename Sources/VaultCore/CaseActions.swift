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
