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

/// A JSON scalar in a message's `data` object (location coordinates, media sizes, flags).
public enum JSONValue: Sendable, Equatable, Codable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        }
    }
}

/// One decrypted transcript message.
public struct TranscriptMessage: Sendable, Equatable {
    public let id: ID
    public let seq: Int
    public let direction: String
    public let kind: String
    public let text: String?
    /// For kinds other than text: location (title, address, latitude, longitude), sticker (package_id, sticker_id),
    /// media (content_type, size, content_available, line_message_id, …), follow (is_unblocked).
    public let data: [String: JSONValue]?
    public let sentAt: Int64
    public let author: String
    public let retracted: Bool
    /// Outbound replies: the outbox state (`pending`, `delivered`, `failed`); nil otherwise.
    public let delivery: String?
    /// Whether `text` is known to hold no byte JSON escapes (`"`, `\`, control characters), so a writer may copy it
    /// as is. Set for the common `{"text":"…"}` plaintext, whose text was checked while it was read.
    public let textIsEscapeFree: Bool

    init(
        id: ID, seq: Int, direction: String, kind: String, text: String?, data: [String: JSONValue]?, sentAt: Int64,
        author: String, retracted: Bool, delivery: String?, textIsEscapeFree: Bool = false
    ) {
        self.id = id
        self.seq = seq
        self.direction = direction
        self.kind = kind
        self.text = text
        self.data = data
        self.sentAt = sentAt
        self.author = author
        self.retracted = retracted
        self.delivery = delivery
        self.textIsEscapeFree = textIsEscapeFree && text != nil
    }
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
            let desks = try self.memberDeskIDs(db, user: user)
            guard !desks.isEmpty else { return [] }
            var sql = """
                SELECT c.*, d.name AS desk_name, u.username AS assignee_name,
                    \(Self.unreadSQL(reader: "?")) AS unread,
                    CASE WHEN c.assignee_id IS NULL THEN 0 ELSE \(Self.unreadSQL(reader: "c.assignee_id")) END
                        AS assignee_unread
                FROM cases c JOIN desks d ON d.id = c.desk_id
                LEFT JOIN users u ON u.id = c.assignee_id
                WHERE c.desk_id IN (\(databaseQuestionMarks(count: desks.count)))
                """
            var args: [DatabaseValueConvertible?] = [Data(user.id.bytes)] + desks.map { Data($0.bytes) }
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

    /// The unread inbound messages of case `c` for `reader` (an SQL expression): the case's inbound count less
    /// those at or before the reader's position, two counters kept by every write; no message is read (StorageTests
    /// checks the plan).
    static func unreadSQL(reader: String) -> String {
        """
        (c.inbound_count
            - coalesce((SELECT read_inbound FROM case_reads r WHERE r.case_id = c.id AND r.user_id = \(reader)), 0))
        """
    }

    /// Reads a transcript page: policy check, then the read is recorded in the same transaction that fetches
    /// the sealed rows (no entry, no content); the rows are opened with the user's keys while that transaction
    /// runs and commits, and returned only once it has committed.
    /// - Throws: `.forbidden` (recorded as denied), `.notFound`, `.auditUnavailable` when the log cannot be written.
    /// With `includeRetracted`, retracted (unsent) messages show their content too; that needs a `reason`, which is
    /// recorded (sealed) with the read.
    public func transcript(
        caseID: ID, afterSeq: Int, limit: Int, includeRetracted: Bool = false, reason: String? = nil,
        as user: UnlockedUser, requestID: String
    ) async throws -> [TranscriptMessage] {
        try await transcript(
            caseID: caseID, afterSeq: afterSeq, limit: limit, includeRetracted: includeRetracted, reason: reason,
            as: user, requestID: requestID, render: { $0 }
        ).flatMap { $0 }
    }

    /// `transcript`, with each chunk of the page passed through `render` on the worker that opened it (the HTTP
    /// layer writes its JSON there, so rendering runs in parallel with the decryption). Chunks come back in order.
    public func transcript<R: Sendable>(
        caseID: ID, afterSeq: Int, limit: Int, includeRetracted: Bool = false, reason: String? = nil,
        as user: UnlockedUser, requestID: String, render: @escaping @Sendable ([TranscriptMessage]) -> R
    ) async throws -> [R] {
        if includeRetracted, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw VaultError.invalid("reading retracted messages needs a reason (X-Access-Reason)")
        }
        let caller = user.caller(requestID: requestID)
        let target = "case:\(caseID)"
        let reason = includeRetracted ? reason : nil
        // The envelopes are opened while the rows are still being fetched and the read's entry committed: each
        // chunk of rows goes to a worker as soon as it is read (a sealed-box open costs ~36 µs, so a 1,000-message
        // page is ~36 ms of CPU; spread over the cores and overlapped with the fetch and the fsync). Nothing
        // opened leaves this function before the transaction holding the entry has committed: when the commit
        // fails, the opened chunks are dropped and the request fails (fail closed, DESIGN.md guarantee 5).
        let jobs = TranscriptJobs<R>()
        let openChunk = { @Sendable (slice: [StoredMessage], epochs: [[UInt8]: BoxKeyPair]) throws -> R in
            // Rows of one epoch share one key-id array (see the fetch loop): comparing it to the previous row's is an
            // identity check, so the dictionary is consulted once per epoch, not once per row.
            var last: (id: [UInt8], pair: BoxKeyPair)?
            return render(
                try slice.map { m in
                    let epoch: BoxKeyPair?
                    if let last, last.id == m.epochKeyID {
                        epoch = last.pair
                    } else {
                        epoch = epochs[m.epochKeyID]
                        last = epoch.map { (m.epochKeyID, $0) }
                    }
                    return try Self.open(m, caseID: caseID, epoch: epoch, includeRetracted: includeRetracted)
                })
        }
        let outcome: TranscriptOutcome = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if let denial = try self.readDenial(db, case: c, user: user) {
                try self.record(db, caller, "transcript.read", target, .denied)
                return .denied(denial)
            }
            let pageLimit = min(max(limit, 1), 1000)
            // A cursor reuses one row and reads the blobs without an intermediate copy (a 1,000-row page).
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT m.id, m.seq, m.epoch_key_id, m.direction, m.kind, m.author, m.sent_at, m.body, m.sealed_key,
                        m.retracted, m.written_by, c.state AS content_state, c.content_type, c.size AS content_size,
                        o.status AS delivery
                    FROM messages m LEFT JOIN message_content c ON c.message_id = m.id
                    LEFT JOIN outbox o ON o.message_id = m.id
                    WHERE m.case_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?
                    """,
                arguments: [Data(caseID.bytes), afterSeq, pageLimit])
            // About 32 chunks for a full page, with small ones at both ends: the first so that a second core starts
            // at once, the last ones so that the cores finish together (the page's expected size comes from the
            // case's message count; it is only a hint).
            let schedule = ChunkSchedule(
                base: max(16, pageLimit / 32), expected: min(pageLimit, max(0, c.messageCount - afterSeq)))
            var chunkSize = schedule.size(handedOut: 0)
            var handedOut = 0
            var epochs: [[UInt8]: BoxKeyPair] = [:]
            var chunk: [StoredMessage] = []
            chunk.reserveCapacity(schedule.base)
            var last: Int?
            var keyFailure: VaultError?
            var lastEpochID: [UInt8]?
            // The reader's stored position; the inbound rows of this page past it move the position's counter.
            let position = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT last_seq, read_inbound FROM case_reads WHERE user_id = ? AND case_id = ?"),
                arguments: [Data(user.id.bytes), Data(caseID.bytes)]
            ).map { (lastSeq: $0[0] as Int, readInbound: $0[1] as Int) }
            let counted = max(position?.lastSeq ?? 0, afterSeq)
            var inboundPastPosition = 0
            while let row = try cursor.next() {
                var m = try StoredMessage(transcriptRow: row)
                last = m.seq
                if m.seq > counted, m.direction == "inbound" { inboundPastPosition += 1 }
                guard keyFailure == nil else { continue }
                if let lastEpochID, lastEpochID == m.epochKeyID {
                    m.epochKeyID = lastEpochID  // one array per epoch: the workers compare by identity
                } else {
                    // Each distinct epoch key is opened once, with the user's keys.
                    if epochs[m.epochKeyID] == nil {
                        do {
                            epochs[m.epochKeyID] = try self.openEpoch(
                                db, keyID: m.epochKeyID, case: c, desk: desk, as: user)
                        } catch {
                            // Recorded as an error below; the request fails after the commit. A wrap that fails its
                            // libsodium check (tampered) is an integrity failure.
                            keyFailure =
                                error as? VaultError ?? .integrity("a stored key wrap of this case failed its check")
                            continue
                        }
                    }
                    lastEpochID = m.epochKeyID
                }
                chunk.append(m)
                if chunk.count == chunkSize {
                    jobs.start { [chunk, epochs] in try openChunk(chunk, epochs) }
                    handedOut += chunk.count
                    chunkSize = schedule.size(handedOut: handedOut)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            // Recorded once the page is known: `error` when a key failed and nothing is served.
            try self.record(
                db, caller, "transcript.read", includeRetracted ? "\(target) include_retracted" : target,
                keyFailure == nil ? .allowed : .error, reason: reason, desk: desk)
            if !chunk.isEmpty, keyFailure == nil {
                jobs.start { [chunk, epochs] in try openChunk(chunk, epochs) }
            }
            // The unread position moves only when the page is readable: a read that fails for a key stays recorded
            // in the log but leaves the reader's unread count where it was.
            // It only moves forward.
            if let last, keyFailure == nil, last > position?.lastSeq ?? 0 {
                try self.moveReadPosition(
                    db, user: user.id, caseID: caseID, from: position ?? (0, 0), afterSeq: afterSeq, to: last,
                    inboundPastPosition: inboundPastPosition)
            }
            return .opened(keyFailure)
        }
        switch outcome {
        case .denied(let e): throw e
        case .opened(let keyFailure?): throw keyFailure
        case .opened(nil): return try await jobs.results()
        }
    }

    /// Stores the reader's new position `to` with its counter: the inbound messages at or before it are those at or
    /// before the old position, those between the old position and the page's start (a reader who skipped ahead;
    /// counted here from the rows), and `inboundPastPosition`, the page's inbound rows after both.
    func moveReadPosition(
        _ db: Database, user: ID, caseID: ID, from position: (lastSeq: Int, readInbound: Int), afterSeq: Int,
        to last: Int, inboundPastPosition: Int
    ) throws {
        var readInbound = position.readInbound + inboundPastPosition
        if afterSeq > position.lastSeq {
            readInbound +=
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM messages WHERE case_id = ? AND seq > ? AND seq <= ? AND direction = 'inbound'
                        """,
                    arguments: [Data(caseID.bytes), position.lastSeq, afterSeq]) ?? 0
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO case_reads (user_id, case_id, last_seq, read_inbound) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_id, case_id) DO UPDATE SET last_seq = excluded.last_seq,
                    read_inbound = excluded.read_inbound
                """
        ).execute(arguments: [Data(user.bytes), Data(caseID.bytes), last, readInbound])
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

    private static func open(
        _ m: StoredMessage, caseID: ID, epoch: BoxKeyPair?, includeRetracted: Bool
    ) throws -> TranscriptMessage {
        let envelope = m.envelope(caseID: caseID)
        guard let epoch else {
            throw VaultError.forbidden("no key for this part of the case")
        }
        let plain: [UInt8]
        do {
            plain = try envelope.open(with: epoch)
        } catch {
            // A relay-sealed envelope is stored unopened: one the relay built wrong (AAD fields that differ from
            // its cleartext fields) is shown as unreadable instead of failing the whole page.
            if m.writtenBy?.hasPrefix("relay-sealed:") == true {
                return TranscriptMessage(
                    id: m.id, seq: m.seq, direction: m.direction, kind: m.kind, text: nil,
                    data: ["error": .string("does_not_authenticate")], sentAt: m.sentAt, author: m.author,
                    retracted: m.retracted, delivery: m.delivery)
            }
            throw VaultError.integrity("message \(m.id) does not authenticate; the stored row was altered")
        }
        // Most messages are `{"text":"…"}` without escapes: read those directly, parse the rest.
        let hidden = m.retracted && !includeRetracted
        if m.kind == "text", let fast = Self.plainText(plain) {
            return TranscriptMessage(
                id: m.id, seq: m.seq, direction: m.direction, kind: m.kind, text: hidden ? nil : fast, data: nil,
                sentAt: m.sentAt, author: m.author, retracted: m.retracted, delivery: m.delivery,
                textIsEscapeFree: true)
        }
        var object = (try? JSONDecoder().decode([String: JSONValue].self, from: Data(plain))) ?? [:]
        var text: String?
        if m.kind == "text", case .string(let t)? = object["text"] { text = t }
        if Self.mediaKinds.contains(m.kind) {
            object["content_available"] = .bool(m.contentState == "complete")
            object["content_type"] = m.contentState == "complete" ? m.contentType.map(JSONValue.string) ?? .null : .null
            object["size"] = m.contentState == "complete" ? m.contentSize.map(JSONValue.int) ?? .null : .null
        }
        return TranscriptMessage(
            id: m.id, seq: m.seq, direction: m.direction, kind: m.kind, text: hidden ? nil : text,
            data: m.kind == "text" || hidden ? nil : object, sentAt: m.sentAt, author: m.author,
            retracted: m.retracted, delivery: m.delivery)
    }

    /// The text of a `{"text":"…"}` plaintext whose string has no escapes (valid UTF-8); nil for anything else.
    static func plainText(_ plain: [UInt8]) -> String? {
        plain.withUnsafeBufferPointer { p -> String? in
            let prefix: StaticString = #"{"text":""#
            let n = prefix.utf8CodeUnitCount
            guard p.count >= n + 2, memcmp(p.baseAddress!, prefix.utf8Start, n) == 0, p[p.count - 2] == 0x22,
                p[p.count - 1] == 0x7D
            else { return nil }
            let inner = UnsafeBufferPointer(rebasing: p[n..<(p.count - 2)])
            guard !JSONString.needsEscaping(UnsafeRawBufferPointer(inner)) else { return nil }
            return String(validating: inner, as: UTF8.self)
        }
    }

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

/// How the transcript's logged read ended: rows handed to workers (with the key failure, if any), or the recorded
/// denial.
private enum TranscriptOutcome: Sendable {
    /// The read was recorded and the rows handed to workers; a key the user lacks fails the request.
    case opened(VaultError?)
    case denied(VaultError)
}

/// How many rows each chunk of a transcript page holds: `base`, except `edge` for the first chunk (a second core
/// starts within a few rows) and for the last `4 × base` rows expected (the cores run out of work together instead of
/// one finishing a full chunk alone).
struct ChunkSchedule {
    let base: Int
    let expected: Int
    var edge: Int { max(1, base / 4) }

    func size(handedOut: Int) -> Int {
        if handedOut == 0 || expected - handedOut <= 4 * base { return edge }
        return base
    }
}

/// Chunks of a transcript page being opened on the global queue, collected in the order they were started.
/// Any chunk's failure fails the whole page.
private final class TranscriptJobs<R: Sendable>: Sendable {
    private let group = DispatchGroup()
    private let slots = Mutex<[Result<R, any Error>?]>([])

    func start(_ work: @escaping @Sendable () throws -> R) {
        let index = slots.withLock { slots in
            slots.append(nil)
            return slots.count - 1
        }
        DispatchQueue.global().async(group: group) {
            let result = Result { try work() }
            self.slots.withLock { $0[index] = result }
        }
    }

    /// Waits for every started chunk; their results in order.
    func results() async throws -> [R] {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { done.resume() }
        }
        return try slots.withLock { all in
            try all.map { slot in
                guard let slot else { throw VaultError.integrity("a transcript chunk was not opened") }
                return try slot.get()
            }
        }
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
    var contentState: String?
    var contentType: String?
    var contentSize: Int64?
    var delivery: String?
    var writtenBy: String?

    /// From the transcript query's columns, by position (name lookups cost more than the decryption):
    /// id, seq, epoch_key_id, direction, kind, author, sent_at, body, sealed_key, retracted, written_by,
    /// content_state, content_type, content_size, delivery.
    init(transcriptRow row: Row) throws {
        let blob = { (i: Int) throws -> [UInt8] in
            do {
                return try row.decode(BlobColumn.self, atIndex: i).bytes
            } catch {
                throw VaultError.integrity("a message row lacks column \(i)")
            }
        }
        guard let id = ID(bytes: try blob(0)) else { throw VaultError.integrity("a message id is malformed") }
        self.id = id
        self.seq = row[1]
        self.epochKeyID = try blob(2)
        self.direction = row[3]
        self.kind = row[4]
        self.author = row[5]
        self.sentAt = row[6]
        self.body = try blob(7)
        self.key = try blob(8)
        self.retracted = (row[9] as Int? ?? 0) != 0
        self.writtenBy = row[10]
        self.contentState = row[11]
        self.contentType = row[12]
        self.contentSize = row[13]
        self.delivery = row[14]
    }

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
        self.contentState = row.hasColumn("content_state") ? row["content_state"] : nil
        self.contentType = row.hasColumn("content_type") ? row["content_type"] : nil
        self.contentSize = row.hasColumn("content_size") ? row["content_size"] : nil
        self.delivery = row.hasColumn("delivery") ? row["delivery"] : nil
        self.writtenBy = row.hasColumn("written_by") ? row["written_by"] : nil
    }

    func envelope(caseID: ID) -> Envelope {
        Envelope(
            messageID: id, caseID: caseID, epochKeyID: epochKeyID, direction: direction, kind: kind, author: author,
            sentAt: sentAt, body: body, key: key)
    }
}
