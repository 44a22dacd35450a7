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

    /// Whether `user` holds a live time-limited grant of `kind` on the case (its MAC checked).
    /// - Throws: `VaultError.integrity` when the grant row was changed outside the vault.
    func hasLiveGrant(_ db: Database, caseID: ID, userID: ID, kind: String) throws -> Bool {
        let rows = try Row.fetchAll(
            db,
            sql:
                "SELECT * FROM case_grants WHERE case_id = ? AND user_id = ? AND kind = ? AND expired = 0 AND expires_at > ?",
            arguments: [Data(caseID.bytes), Data(userID.bytes), kind, now()])
        for row in rows { try checkGrant(row) }
        return !rows.isEmpty
    }

    /// The authenticated fields of a `case_grants` row (FORMAT.md §18).
    static func grantFields(
        id: [UInt8], caseID: [UInt8], userID: [UInt8], kind: String, requestID: [UInt8]?, auditSeq: Int64?,
        createdAt: Int64, expiresAt: Int64, expired: Bool
    ) -> [[UInt8]] {
        [
            id, caseID, userID, Array(kind.utf8), requestID ?? [], StateField.int(auditSeq), StateField.int(createdAt),
            StateField.int(expiresAt), StateField.flag(expired),
        ]
    }

    static func grantFields(_ row: Row, expired: Bool? = nil) -> [[UInt8]] {
        grantFields(
            id: Array(row["id"] as Data), caseID: Array(row["case_id"] as Data), userID: Array(row["user_id"] as Data),
            kind: row["kind"], requestID: (row["request_id"] as Data?).map { Array($0) }, auditSeq: row["audit_seq"],
            createdAt: row["created_at"], expiresAt: row["expires_at"],
            expired: expired ?? ((row["expired"] as Int) != 0))
    }

    /// - Throws: `VaultError.integrity` when a `case_grants` row does not carry its MAC.
    func checkGrant(_ row: Row) throws {
        try stateMAC.check(.grant, Self.grantFields(row), (row["state_mac"] as Data?).map { Array($0) })
    }

    /// Stores a grant with its MAC.
    func insertGrant(
        _ db: Database, caseID: ID, userID: ID, kind: String, requestID: ID?, auditSeq: Int64?, expiresAt: Int64
    ) throws {
        let id = ID.v4()
        let created = now()
        let mac = stateMAC.tag(
            .grant,
            Self.grantFields(
                id: id.bytes, caseID: caseID.bytes, userID: userID.bytes, kind: kind, requestID: requestID?.bytes,
                auditSeq: auditSeq, createdAt: created, expiresAt: expiresAt, expired: false))
        try db.execute(
            sql: """
                INSERT INTO case_grants (id, case_id, user_id, kind, request_id, audit_seq, created_at, expires_at,
                    state_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(id.bytes), Data(caseID.bytes), Data(userID.bytes), kind, requestID.map { Data($0.bytes) },
                auditSeq, created, expiresAt, Data(mac),
            ])
    }

    /// Seals every epoch of the case (opened with the supervisor's oversight key) to `recipient` until `expiresAt`.
    func grantEpochs(
        _ db: Database, case c: CaseRow, desk: DeskState, opener: UnlockedUser, recipient: UserKeys, expiresAt: Int64
    ) throws {
        // Sealed only to a key the signed manifest lists for that user.
        guard let listed = desk.manifest.member(recipient.username), listed.boxPublic == recipient.boxPublic,
            listed.role == recipient.role
        else { throw VaultError.forbidden("\(recipient.username) is not listed in the desk's signed manifest") }
        try sealEveryEpoch(db, case: c, desk: desk, opener: opener, to: recipient.boxPublic, expiresAt: expiresAt)
    }

    /// A counselor of the desk asks to read a case that is not theirs, with a reason (sealed).
    public func requestAccess(_ caseID: ID, reason: String, as user: UnlockedUser, requestID: String) async throws -> ID
    {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096 else {
            throw VaultError.invalid("`reason` must be 1–4096 bytes")
        }
        let caller = user.caller(requestID: requestID)
        let id = ID.v4()
        let outcome: Result<ID, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            if case .denied(let e) = try self.mayRequestAccess(db, case: c, user) {
                return try self.refuse(db, caller, "access.request", "case:\(caseID)", e)
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
            try self.authenticateNewRow(db, .accessRequest, table: "access_requests", key: ("id", Data(id.bytes)))
            try self.record(db, caller, "access.request", "case:\(caseID) request:\(id)", reason: reason, desk: desk)
            return .success(id)
        }
        return try outcome.get()
    }

    /// Requests on the desks this supervisor oversees, newest first; reasons opened with the oversight key.
    /// - Throws: `.forbidden` (recorded as a denied `access.list`) for anyone but a supervisor.
    public func listAccessRequests(desk: String?, as user: UnlockedUser, requestID: String = ID.v4().description)
        async throws -> [AccessRequestSummary]
    {
        try await enforce(
            mayListAccessRequests(user), user.caller(requestID: requestID), "access.list", "desk:\(desk ?? "*")")
        return try await database.read { db in
            // Only desks whose signed manifest lists this supervisor.
            let desks = try self.memberDeskIDs(db, user: user)
            guard !desks.isEmpty else { return [] }
            var sql = """
                SELECT r.*, d.name AS desk_name, u.username AS requester FROM access_requests r
                JOIN desks d ON d.id = r.desk_id JOIN users u ON u.id = r.requester_id
                WHERE r.desk_id IN (\(databaseQuestionMarks(count: desks.count)))
                """
            var args: [DatabaseValueConvertible] = desks.map { Data($0.bytes) }
            if let desk {
                sql += " AND d.name = ?"
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
        let outcome: Result<Int64?, VaultError> = try await database.transaction { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM access_requests WHERE id = ?", arguments: [Data(requestID.bytes)]),
                let caseID = ID(bytes: Array(row["case_id"] as Data)), let c = try self.findCase(db, id: caseID),
                let requesterID = ID(bytes: Array(row["requester_id"] as Data))
            else { throw VaultError.notFound("no access request \(requestID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a supervisor of the desk decides")
            {
                return try self.refuse(db, caller, action, "request:\(requestID)", e)
            }
            try self.checkAuthenticated(.accessRequest, row, fields: Self.accessRequestFields)
            guard (row["state"] as String) == "pending" else {
                throw VaultError.conflict("the request was already decided")
            }
            try self.updateAuthenticated(
                db, .accessRequest, table: "access_requests", key: ("id", Data(requestID.bytes)),
                fields: Self.accessRequestFields,
                change: [
                    "state": approve ? "approved" : "declined", "decided_by": user.username, "decided_at": self.now(),
                ])
            var result: Int64?
            if approve {
                guard let requester = try self.findUser(db, id: requesterID), requester.state == "active",
                    try self.isConfirmedMember(db, deskID: c.deskID, userID: requesterID)
                else { throw VaultError.conflict("the requester is no longer a member of the desk") }
                try self.grantEpochs(
                    db, case: c, desk: desk, opener: user, recipient: try self.verifiedKeys(requester),
                    expiresAt: expires)
                try self.insertGrant(
                    db, caseID: c.id, userID: requesterID, kind: "request", requestID: requestID, auditSeq: nil,
                    expiresAt: expires)
                result = expires
            }
            try self.record(db, caller, action, "case:\(caseID) request:\(requestID)")
            return .success(result)
        }
        return try outcome.get()
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
        let outcome: Result<Int64, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a supervisor of the case's desk may break glass")
            {
                return try self.refuse(db, caller, "breakglass.start", "case:\(caseID)", e)
            }
            try self.grantEpochs(db, case: c, desk: desk, opener: user, recipient: user.keys, expiresAt: expires)
            try self.record(db, caller, "breakglass.start", "case:\(caseID)", reason: reason, desk: desk)
            let seq = try AuditLog.headSeq(db)
            try self.insertGrant(
                db, caseID: c.id, userID: user.id, kind: "breakglass", requestID: nil, auditSeq: seq, expiresAt: expires
            )
            // Every break-glass is anchored at once by a signed checkpoint (DESIGN.md "Access log").
            try self.checkpoint(db, force: true)
            return .success(expires)
        }
        return try outcome.get()
    }

    /// Ends expired grants: the grantee's wraps of the case's epochs go (every one of them, unless the grantee is
    /// the case's assignee), and each case starts a new epoch so a copy of the database taken later opens no later
    /// message to them. Recorded as access.expire / breakglass.expire. A grant row whose MAC does not match (an
    /// extended expiry, a forged "expired" flag) is ended at once and counted as an integrity failure.
    /// - Returns: how many grants ended.
    @discardableResult
    public func expireGrants() async throws -> Int {
        try await database.transaction { db in
            let now = self.now()
            let candidates = try Row.fetchAll(
                db, sql: "SELECT * FROM case_grants WHERE expired = 0 OR created_at > ?",
                arguments: [now - 7 * 86_400_000])
            var ended = 0
            for g in candidates {
                let authentic = (try? self.checkGrant(g)) != nil
                let due = !authentic || ((g["expired"] as Int) == 0 && (g["expires_at"] as Int64) <= now)
                guard due, let caseID = ID(bytes: Array(g["case_id"] as Data)),
                    let userID = ID(bytes: Array(g["user_id"] as Data)),
                    let c = try self.findCase(db, id: caseID)
                else { continue }
                if c.assigneeID != userID, let user = try self.findUser(db, id: userID), let pk = user.boxPublic {
                    try self.revokeCaseWraps(db, case: caseID, recipient: pk)
                }
                let mac = self.stateMAC.tag(.grant, Self.grantFields(g, expired: true))
                try db.execute(
                    sql: "UPDATE case_grants SET expired = 1, state_mac = ? WHERE id = ?",
                    arguments: [Data(mac), g["id"] as Data])
                let desk = try self.desk(db, id: c.deskID)
                try self.startEpoch(db, case: c, desk: desk)
                let kind: String = g["kind"]
                try self.record(
                    db, Self.systemCaller, kind == "breakglass" ? "breakglass.expire" : "access.expire",
                    "case:\(caseID)", authentic ? .allowed : .error)
                ended += 1
            }
            return ended
        }
    }
}
