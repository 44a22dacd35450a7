import Foundation
import GRDB
import VaultCrypto

/// A pending access request as a supervisor sees it (the reason opened with the desk oversight key).
public struct AccessRequestSummary: Sendable, Equatable {
    public let id: ID
    public let caseID: ID
    public let desk: String
    public let requester: String
    public let state: String
    public let createdAt: Int64
    public let reason: String?
}

extension Vault {
    static let systemCaller = Caller(actor: "vault", role: "system", requestID: "scheduled")

    /// Whether `user` holds a live time-limited grant of `kind` on the case.
    func hasLiveGrant(_ db: Database, caseID: ID, userID: ID, kind: String) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql:
                "SELECT 1 FROM case_grants WHERE case_id = ? AND user_id = ? AND kind = ? AND expired = 0 AND expires_at > ?",
            arguments: [Data(caseID.bytes), Data(userID.bytes), kind, now()]) ?? false
    }

    /// Seals every epoch of the case (opened with the supervisor's oversight key) to `recipient` until `expiresAt`.
    func grantEpochs(
        _ db: Database, case c: CaseRow, desk: DeskState, opener: UnlockedUser, recipient: UserKeys, expiresAt: Int64
    ) throws {
        let epochIDs = try Data.fetchAll(
            db, sql: "SELECT key_id FROM case_epochs WHERE case_id = ? ORDER BY epoch", arguments: [Data(c.id.bytes)])
        for raw in epochIDs {
            let pair = try openEpoch(db, keyID: Array(raw), case: c, desk: desk, as: opener)
            try storeWrap(
                db, secret: pair.secretKey, label: .caseEpoch, scope: c.id.bytes, keyID: pair.keyID,
                recipient: recipient.boxPublic, expiresAt: expiresAt)
        }
    }

    /// A counselor of the desk asks to read a case that is not theirs, with a reason (sealed).
    public func requestAccess(_ caseID: ID, reason: String, as user: UnlockedUser, requestID: String) async throws -> ID
    {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096 else {
            throw VaultError.invalid("`reason` must be 1–4096 bytes")
        }
        let caller = user.caller(requestID: requestID)
        let id = ID.v4()
        let outcome: WorkedOutcome<ID> = try await database.transaction { db in
            guard let c = try CaseRow.find(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            guard user.role == .counselor, try self.isConfirmedMember(db, deskID: c.deskID, userID: user.id) else {
                try self.record(db, caller, "access.request", "case:\(caseID)", .denied)
                return .denied
            }
            let desk = try self.desk(db, id: c.deskID)
            try db.execute(
                sql: """
                    INSERT INTO access_requests (id, case_id, desk_id, requester_id, reason_sealed, state, created_at)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?)
                    """,
                arguments: [
                    Data(id.bytes), Data(c.id.bytes), Data(c.deskID.bytes), Data(user.id.bytes),
                    Data(try self.sealReason(reason, in: db, desk: desk)), self.now(),
                ])
            try self.record(db, caller, "access.request", "case:\(caseID) request:\(id)", reason: reason, desk: desk)
            return .done(id)
        }
        guard case .done(let r) = outcome else {
            throw VaultError.forbidden("only counselors of the case's desk may ask")
        }
        return r
    }

    /// Requests on the desks this supervisor oversees, newest first; reasons opened with the oversight key.
    public func listAccessRequests(desk: String?, as user: UnlockedUser) async throws -> [AccessRequestSummary] {
        guard user.role == .supervisor else { throw VaultError.forbidden("only supervisors list access requests") }
        return try await database.read { db in
            var sql = """
                SELECT r.*, d.name AS desk_name, u.username AS requester FROM access_requests r
                JOIN desks d ON d.id = r.desk_id JOIN users u ON u.id = r.requester_id
                JOIN desk_members m ON m.desk_id = r.desk_id AND m.user_id = ? AND m.state = 'confirmed'
                """
            var args: [DatabaseValueConvertible] = [Data(user.id.bytes)]
            if let desk {
                sql += " WHERE d.name = ?"
                args.append(desk)
            }
            sql += " ORDER BY r.created_at DESC LIMIT 1000"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
                let deskID = ID(bytes: Array(row["desk_id"] as Data))!
                let desk = try self.desk(db, id: deskID)
                let reason = try? self.openReason(Array(row["reason_sealed"] as Data), db: db, desk: desk, as: user)
                return AccessRequestSummary(
                    id: ID(bytes: Array(row["id"] as Data))!, caseID: ID(bytes: Array(row["case_id"] as Data))!,
                    desk: row["desk_name"], requester: row["requester"], state: row["state"],
                    createdAt: row["created_at"],
                    reason: reason)
            }
        }
    }

    /// Opens a sealed reason with the desk oversight key (supervisors).
    func openReason(_ sealed: [UInt8], db: Database, desk: DeskState, as user: UnlockedUser) throws -> String {
        let parts = try Canonical.decode(sealed)
        guard parts.count == 2, !parts[1].isEmpty else { throw VaultError.forbidden("no oversight copy of the reason") }
        let oversight = try openDeskKey(db, desk: desk, kind: .deskOversight, as: user)
        let plain = try SealedBox.open(parts[1], with: oversight)
        return plain.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Approves (sealing the case to the requester until expiry) or declines a pending request.
    /// - Returns: the grant's expiry when approved.
    @discardableResult
    public func decideAccessRequest(_ requestID: ID, approve: Bool, as user: UnlockedUser, auditRequestID: String)
        async throws -> Int64?
    {
        let caller = user.caller(requestID: auditRequestID)
        let expires = now() + settings.grantSeconds * 1000
        let action = approve ? "access.approve" : "access.decline"
        let outcome: WorkedOutcome<Int64?> = try await database.transaction { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM access_requests WHERE id = ?", arguments: [Data(requestID.bytes)]),
                let caseID = ID(bytes: Array(row["case_id"] as Data)), let c = try CaseRow.find(db, id: caseID),
                let requesterID = ID(bytes: Array(row["requester_id"] as Data))
            else { throw VaultError.notFound("no access request \(requestID)") }
            guard user.role == .supervisor, try self.isConfirmedMember(db, deskID: c.deskID, userID: user.id) else {
                try self.record(db, caller, action, "request:\(requestID)", .denied)
                return .denied
            }
            guard (row["state"] as String) == "pending" else {
                throw VaultError.conflict("the request was already decided")
            }
            try db.execute(
                sql: "UPDATE access_requests SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                arguments: [approve ? "approved" : "declined", user.username, self.now(), Data(requestID.bytes)])
            var result: Int64?
            if approve {
                guard let requester = try UserRecord.find(db, id: requesterID), requester.state == "active",
                    try self.isConfirmedMember(db, deskID: c.deskID, userID: requesterID)
                else { throw VaultError.conflict("the requester is no longer a member of the desk") }
                let desk = try self.desk(db, id: c.deskID)
                try self.grantEpochs(
                    db, case: c, desk: desk, opener: user, recipient: try self.verifiedKeys(requester),
                    expiresAt: expires)
                try db.execute(
                    sql: """
                        INSERT INTO case_grants (id, case_id, user_id, kind, request_id, created_at, expires_at)
                        VALUES (?, ?, ?, 'request', ?, ?, ?)
                        """,
                    arguments: [
                        Data(ID.v4().bytes), Data(c.id.bytes), Data(requesterID.bytes), Data(requestID.bytes),
                        self.now(), expires,
                    ])
                result = expires
            }
            try self.record(db, caller, action, "case:\(caseID) request:\(requestID)")
            return .done(result)
        }
        guard case .done(let r) = outcome else { throw VaultError.forbidden("only a supervisor of the desk decides") }
        return r
    }

    /// Break-glass: a supervisor of the desk reads a case not assigned to them, with a recorded reason, for a
    /// limited time; the entry waits in the auditors' review queue.
    /// - Returns: the expiry.
    public func breakGlass(_ caseID: ID, reason: String, as user: UnlockedUser, requestID: String) async throws -> Int64
    {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096 else {
            throw VaultError.invalid("`reason` must be 1–4096 bytes")
        }
        let caller = user.caller(requestID: requestID)
        let expires = now() + settings.grantSeconds * 1000
        let outcome: WorkedOutcome<Int64> = try await database.transaction { db in
            guard let c = try CaseRow.find(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            guard user.role == .supervisor, try self.isConfirmedMember(db, deskID: c.deskID, userID: user.id) else {
                try self.record(db, caller, "breakglass.start", "case:\(caseID)", .denied)
                return .denied
            }
            let desk = try self.desk(db, id: c.deskID)
            try self.grantEpochs(db, case: c, desk: desk, opener: user, recipient: user.keys, expiresAt: expires)
            try self.record(db, caller, "breakglass.start", "case:\(caseID)", reason: reason, desk: desk)
            let seq = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log")
            try db.execute(
                sql: """
                    INSERT INTO case_grants (id, case_id, user_id, kind, audit_seq, created_at, expires_at)
                    VALUES (?, ?, ?, 'breakglass', ?, ?, ?)
                    """,
                arguments: [Data(ID.v4().bytes), Data(c.id.bytes), Data(user.id.bytes), seq, self.now(), expires])
            // Every break-glass is anchored at once by a signed checkpoint (DESIGN.md "Access log").
            try self.checkpoint(db, force: true)
            return .done(expires)
        }
        guard case .done(let r) = outcome else {
            throw VaultError.forbidden("only a supervisor of the case's desk may break glass")
        }
        return r
    }

    /// Ends expired grants: their wraps go, and each case starts a new epoch so a copy of the database taken later
    /// opens no later message to them. Recorded as access.expire / breakglass.expire.
    /// - Returns: how many grants ended.
    @discardableResult
    public func expireGrants() async throws -> Int {
        try await database.transaction { db in
            let due = try Row.fetchAll(
                db, sql: "SELECT * FROM case_grants WHERE expired = 0 AND expires_at <= ?", arguments: [self.now()])
            for g in due {
                guard let caseID = ID(bytes: Array(g["case_id"] as Data)),
                    let userID = ID(bytes: Array(g["user_id"] as Data)),
                    let c = try CaseRow.find(db, id: caseID)
                else { continue }
                if let user = try UserRecord.find(db, id: userID), let pk = user.boxPublic {
                    try db.execute(
                        sql: """
                            DELETE FROM key_wraps WHERE recipient_key_id = ? AND expires_at IS NOT NULL
                            AND key_id IN (SELECT key_id FROM case_epochs WHERE case_id = ?)
                            """, arguments: [Data(Hashing.keyID(pk)), Data(caseID.bytes)])
                }
                try db.execute(sql: "UPDATE case_grants SET expired = 1 WHERE id = ?", arguments: [g["id"] as Data])
                let desk = try self.desk(db, id: c.deskID)
                let assignee = try c.assigneeID.flatMap { try UserRecord.find(db, id: $0) }.map {
                    try self.verifiedKeys($0)
                }
                try self.startEpoch(db, case: c, desk: desk, assignee: assignee)
                let kind: String = g["kind"]
                try self.record(
                    db, Self.systemCaller, kind == "breakglass" ? "breakglass.expire" : "access.expire",
                    "case:\(caseID)")
            }
            return due.count
        }
    }
}
