import Foundation
import GRDB
import Synchronization
import VaultCrypto

/// Case metadata for listings; never content.
public struct CaseSummary: Sendable, Equatable {
    public let id: ID
    public let desk: String
    public let status: String
    public let risk: String
    public let assignee: String?
    public let flags: [String]
    public let openedAt: Int64
    public let lastMessageAt: Int64
    public let messageCount: Int
    public let unread: Int
}

/// One decrypted transcript message.
public struct TranscriptMessage: Sendable, Equatable {
    public let id: ID
    public let seq: Int
    public let direction: String
    public let kind: String
    public let text: String?
    public let data: [String: String]?
    public let sentAt: Int64
    public let author: String
    public let retracted: Bool
}

/// Filters for `GET /v1/cases`.
public struct CaseQuery: Sendable {
    public var desk: String?
    public var status: String?
    public var assignedToMe = false
    public var flagged: Bool?
    public var limit = 100
    public var after: ID?

    public init() {}
}

extension Vault {
    /// Cases the user may see: for a counselor the desk queue (unassigned) of their confirmed desks plus the cases
    /// assigned to them; for a supervisor every case of their desks. Newest activity first, metadata only.
    /// - Throws: `.forbidden` for other roles or a desk the user is not a confirmed member of.
    public func listCases(_ q: CaseQuery, as user: UnlockedUser) async throws -> [CaseSummary] {
        guard user.role == .counselor || user.role == .supervisor else {
            throw VaultError.forbidden("only counselors and supervisors list cases")
        }
        let live = sessions.liveUserIDs()
        return try await database.read { db in
            var sql = """
                SELECT c.*, d.name AS desk_name, u.username AS assignee_name,
                    (SELECT count(*) FROM messages m WHERE m.case_id = c.id AND m.direction = 'inbound'
                        AND m.seq > coalesce((SELECT last_seq FROM case_reads r WHERE r.case_id = c.id AND r.user_id = ?), 0))
                        AS unread,
                    (SELECT count(*) FROM messages m WHERE m.case_id = c.id AND m.direction = 'inbound'
                        AND m.seq > coalesce((SELECT last_seq FROM case_reads r WHERE r.case_id = c.id
                            AND r.user_id = c.assignee_id), 0)) AS assignee_unread
                FROM cases c JOIN desks d ON d.id = c.desk_id
                JOIN desk_members dm ON dm.desk_id = c.desk_id AND dm.user_id = ? AND dm.state = 'confirmed'
                LEFT JOIN users u ON u.id = c.assignee_id WHERE 1
                """
            var args: [DatabaseValueConvertible?] = [Data(user.id.bytes), Data(user.id.bytes)]
            if user.role == .counselor {
                sql += " AND (c.assignee_id IS NULL OR c.assignee_id = ?)"
                args.append(Data(user.id.bytes))
            }
            if let desk = q.desk {
                sql += " AND d.name = ?"
                args.append(desk)
            }
            if let status = q.status {
                sql += " AND c.status = ?"
                args.append(status)
            }
            if q.assignedToMe {
                sql += " AND c.assignee_id = ?"
                args.append(Data(user.id.bytes))
            }
            if let after = q.after,
                let anchor = try Row.fetchOne(
                    db, sql: "SELECT last_message_at FROM cases WHERE id = ?", arguments: [Data(after.bytes)])
            {
                sql += " AND (c.last_message_at < ? OR (c.last_message_at = ? AND c.id < ?))"
                let t: Int64 = anchor["last_message_at"]
                args += [t, t, Data(after.bytes)]
            }
            sql += " ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?"
            args.append(min(max(q.limit, 1), 1000) * (q.flagged == nil ? 1 : 4))
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            var out: [CaseSummary] = []
            for row in rows {
                let c = try CaseRow(row: row)
                var flags: [String] = []
                if c.risk == "high" || c.risk == "imminent" { flags.append("risk_\(c.risk)") }
                // New inbound messages the assignee has not read, and no live session to read them.
                if let a = c.assigneeID, !live.contains(a), (row["assignee_unread"] as Int? ?? 0) > 0 {
                    flags.append("assignee_offline")
                }
                if let f = q.flagged, f != !flags.isEmpty { continue }
                out.append(
                    CaseSummary(
                        id: c.id, desk: row["desk_name"], status: c.status, risk: c.risk,
                        assignee: row["assignee_name"],
                        flags: flags, openedAt: row["opened_at"], lastMessageAt: row["last_message_at"],
                        messageCount: c.messageCount, unread: row["unread"]))
            }
            return Array(out.prefix(min(max(q.limit, 1), 1000)))
        }
    }

    /// Reads a transcript page: policy check, then the read is recorded in the same transaction that fetches
    /// the sealed rows (no entry, no content); then the rows are opened with the user's keys.
    /// - Throws: `.forbidden` (recorded as denied), `.notFound`, `.auditUnavailable` when the log cannot be written.
    public func transcript(caseID: ID, afterSeq: Int, limit: Int, as user: UnlockedUser, requestID: String) async throws
        -> [TranscriptMessage]
    {
        let caller = user.caller(requestID: requestID)
        let target = "case:\(caseID)"
        enum Outcome: Sendable {
            case rows([StoredMessage], CaseRow, DeskState)
            case denied(VaultError)
        }
        let outcome: Outcome = try await database.transaction { db in
            guard let c = try CaseRow.find(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if let denial = try self.readDenial(db, case: c, user: user) {
                try self.record(db, caller, "transcript.read", target, .denied)
                return .denied(denial)
            }
            try self.record(db, caller, "transcript.read", target)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, seq, epoch_key_id, direction, kind, author, sent_at, body, sealed_key, retracted
                    FROM messages WHERE case_id = ? AND seq > ? ORDER BY seq LIMIT ?
                    """,
                arguments: [Data(caseID.bytes), afterSeq, min(max(limit, 1), 1000)])
            if let last = rows.last?["seq"] as Int? {
                try db.execute(
                    sql: """
                        INSERT INTO case_reads (user_id, case_id, last_seq) VALUES (?, ?, ?)
                        ON CONFLICT (user_id, case_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)
                        """,
                    arguments: [Data(user.id.bytes), Data(caseID.bytes), last])
            }
            return .rows(try rows.map(StoredMessage.init), c, desk)
        }
        guard case .rows(let rows, let c, let desk) = outcome else {
            if case .denied(let e) = outcome { throw e }
            return []
        }
        // Each distinct epoch key is opened once; then the envelopes open in parallel on every core
        // (a sealed-box open costs ~36 µs, so a 1,000-message page would take ~40 ms on one core).
        let epochs: [[UInt8]: BoxKeyPair] = try await database.read { db in
            var keys: [[UInt8]: BoxKeyPair] = [:]
            for id in Set(rows.map(\.epochKeyID)) {
                keys[id] = try self.openEpoch(db, keyID: id, case: c, desk: desk, as: user)
            }
            return keys
        }
        return try Self.openAll(rows, caseID: c.id, epochs: epochs)
    }

    /// Opens envelopes in parallel chunks; any failure fails the whole page.
    static func openAll(_ rows: [StoredMessage], caseID: ID, epochs: [[UInt8]: BoxKeyPair]) throws
        -> [TranscriptMessage]
    {
        let chunks = min(rows.count, max(1, ProcessInfo.processInfo.activeProcessorCount) * 2)
        guard chunks > 1 else { return try rows.map { try open($0, caseID: caseID, epochs: epochs) } }
        let results = Mutex<[Int: Result<[TranscriptMessage], Error>]>([:])
        let size = (rows.count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            let slice = rows[min(rows.count, i * size)..<min(rows.count, (i + 1) * size)]
            let r = Result { try slice.map { try open($0, caseID: caseID, epochs: epochs) } }
            results.withLock { $0[i] = r }
        }
        return try results.withLock { all in try (0..<chunks).flatMap { try all[$0]?.get() ?? [] } }
    }

    /// Why `user` may not read case `c` now, or nil when they may: the assignee, a counselor of the desk for
    /// an unassigned (queue) case. Key possession is checked again when the rows are opened.
    func readDenial(_ db: Database, case c: CaseRow, user: UnlockedUser) throws -> VaultError? {
        let member = try isConfirmedMember(db, deskID: c.deskID, userID: user.id)
        let allowed: Bool
        switch user.role {
        case .counselor:
            let mine = c.assigneeID == user.id || c.assigneeID == nil
            allowed = try member && (mine || hasLiveGrant(db, caseID: c.id, userID: user.id, kind: "request"))
        case .supervisor:
            let mine = c.assigneeID == user.id
            allowed = try member && (mine || hasLiveGrant(db, caseID: c.id, userID: user.id, kind: "breakglass"))
        case .auditor, .admin: allowed = false
        }
        if allowed { return nil }
        return .forbidden(
            user.role == .supervisor && member
                ? "supervisors read a case not assigned to them only through break-glass"
                : "you may not read this case")
    }

    private static func open(_ m: StoredMessage, caseID: ID, epochs: [[UInt8]: BoxKeyPair]) throws -> TranscriptMessage
    {
        let envelope = m.envelope(caseID: caseID)
        guard let epoch = epochs[envelope.epochKeyID] else {
            throw VaultError.forbidden("no key for this part of the case")
        }
        let plain: [UInt8]
        do {
            plain = try envelope.open(with: epoch)
        } catch {
            throw VaultError.integrity("message \(m.id) does not authenticate; the stored row was altered")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(plain))) as? [String: Any] ?? [:]
        return TranscriptMessage(
            id: m.id, seq: m.seq, direction: m.direction, kind: m.kind,
            text: m.retracted ? nil : object["text"] as? String,
            data: m.kind == "text" ? nil : object.compactMapValues { "\($0)" }, sentAt: m.sentAt, author: m.author,
            retracted: m.retracted)
    }

    /// Assigns a case (a supervisor of the desk, or a counselor taking a queue case for themselves): starts a new
    /// epoch sealed to the assignee and the oversight key, seals the earlier epochs to the assignee, and removes
    /// the queue's (and a previous assignee's) wraps. The oversight wrap always remains.
    /// - Throws: `.forbidden` (recorded) when the caller may not assign or the assignee is not a confirmed member.
    public func assign(caseID: ID, to assignee: String, as user: UnlockedUser, requestID: String) async throws {
        let caller = user.caller(requestID: requestID)
        let target = "case:\(caseID) user:\(assignee)"
        enum Outcome: Sendable {
            case done
            case denied(VaultError)
        }
        let outcome: Outcome = try await database.transaction { db in
            guard let c = try CaseRow.find(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
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
                try self.isConfirmedMember(db, deskID: c.deskID, userID: target.id)
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
            let assigneeKeys = try self.verifiedKeys(target)
            // Open every earlier epoch with the actor's keys and seal it to the assignee.
            let epochIDs = try Data.fetchAll(
                db, sql: "SELECT key_id FROM case_epochs WHERE case_id = ? ORDER BY epoch",
                arguments: [Data(c.id.bytes)])
            for raw in epochIDs {
                let pair = try self.openEpoch(db, keyID: Array(raw), case: c, desk: desk, as: user)
                try self.storeEpochWrap(db, pair, case: c, to: assigneeKeys.boxPublic)
            }
            let next = c.currentEpoch + 1
            let epoch = try self.createEpoch(db, case: c, epoch: next)
            try self.storeEpochWrap(db, epoch, case: c, to: assigneeKeys.boxPublic)
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
            try db.execute(
                sql: "UPDATE cases SET assignee_id = ?, current_epoch = ? WHERE id = ?",
                arguments: [Data(target.id.bytes), next, Data(c.id.bytes)])
            try self.record(db, caller, "case.assign", "case:\(caseID) user:\(assignee)")
            return .done
        }
        if case .denied(let e) = outcome { throw e }
    }
}

/// A sealed message row as stored (cleartext metadata plus the envelope's ciphertexts).
struct StoredMessage: Sendable {
    var id: ID
    var seq: Int
    var epochKeyID: [UInt8]
    var direction: String
    var kind: String
    var author: String
    var sentAt: Int64
    var body: [UInt8]
    var key: [UInt8]
    var retracted: Bool

    init(row: Row) throws {
        guard let id = ID(bytes: Array(row["id"] as Data)) else {
            throw VaultError.integrity("a message id is malformed")
        }
        self.id = id
        self.seq = row["seq"]
        self.epochKeyID = Array(row["epoch_key_id"] as Data)
        self.direction = row["direction"]
        self.kind = row["kind"]
        self.author = row["author"]
        self.sentAt = row["sent_at"]
        self.body = Array(row["body"] as Data)
        self.key = Array(row["sealed_key"] as Data)
        self.retracted = (row["retracted"] as Int? ?? 0) != 0
    }

    func envelope(caseID: ID) -> Envelope {
        Envelope(
            messageID: id, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind, author: author,
            sentAt: sentAt, body: body, key: key)
    }
}
