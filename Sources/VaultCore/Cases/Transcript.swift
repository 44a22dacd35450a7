import Foundation
import GRDB
import Synchronization
import VaultCrypto

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
    /// Outbound replies: the relay's ack detail (e.g. `line:400`); nil otherwise.
    public let deliveryDetail: String?
    /// Whether `text` is known to hold no byte JSON escapes (`"`, `\`, control characters), so a writer may copy it
    /// as is. Set for the common `{"text":"…"}` plaintext, whose text was checked while it was read.
    public let textIsEscapeFree: Bool

    init(
        id: ID, seq: Int, direction: String, kind: String, text: String?, data: [String: JSONValue]?, sentAt: Int64,
        author: String, retracted: Bool, delivery: String?, deliveryDetail: String? = nil,
        textIsEscapeFree: Bool = false
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
        self.deliveryDetail = deliveryDetail
        self.textIsEscapeFree = textIsEscapeFree && text != nil
    }
}

/// A decrypted transcript page, in seq order, in the chunks the workers opened (so that a writer can render them in
/// parallel as well).
public struct TranscriptPage: Sendable {
    public let chunks: [[TranscriptMessage]]

    /// The page's messages in seq order.
    public var messages: [TranscriptMessage] { chunks.flatMap { $0 } }
}

extension Vault {
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
        try await transcriptPage(
            caseID: caseID, afterSeq: afterSeq, limit: limit, includeRetracted: includeRetracted, reason: reason,
            as: user, requestID: requestID
        ).messages
    }

    /// `transcript`, as the chunks the workers opened in parallel (in order).
    /// - Throws: as `transcript`.
    public func transcriptPage(
        caseID: ID, afterSeq: Int, limit: Int, includeRetracted: Bool = false, reason: String? = nil,
        as user: UnlockedUser, requestID: String
    ) async throws -> TranscriptPage {
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
        let jobs = TranscriptJobs()
        let openChunk = {
            @Sendable (slice: [StoredMessage], epochs: [[UInt8]: BoxKeyPair], sessions: [[UInt8]: SenderSessionKey])
                throws -> [TranscriptMessage] in
            // Rows of one epoch share one key-id array (see the fetch loop): comparing it to the previous row's is an
            // identity check, so the dictionary is consulted once per epoch, not once per row.
            var last: (id: [UInt8], pair: BoxKeyPair)?
            return try slice.map { m in
                let epoch: BoxKeyPair?
                if let last, last.id == m.epochKeyID {
                    epoch = last.pair
                } else {
                    epoch = epochs[m.epochKeyID]
                    last = epoch.map { (m.epochKeyID, $0) }
                }
                let session = m.sessionID.flatMap { sessions[$0] }
                return try Self.open(
                    m, caseID: caseID, epoch: epoch, session: session, includeRetracted: includeRetracted)
            }
        }
        // Success: the read was recorded and the rows handed to workers; a key the user lacks fails the request.
        let outcome: Result<VaultError?, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.mayRead(db, case: c, user) {
                return try self.refuse(db, caller, "transcript.read", target, e)
            }
            let pageLimit = min(max(limit, 1), 1000)
            // A cursor reuses one row and reads the blobs without an intermediate copy (a 1,000-row page).
            let cursor = try Row.fetchCursor(
                db,
                sql: Self.transcriptSelect + " WHERE m.case_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
                arguments: [Data(caseID.bytes), afterSeq, pageLimit])
            // About 32 chunks for a full page, with small ones at both ends: the first so that a second core starts
            // at once, the last ones so that the cores finish together (the page's expected size comes from the
            // case's message count; it is only a hint).
            let schedule = ChunkSchedule(
                base: max(16, pageLimit / 32), expected: min(pageLimit, max(0, c.messageCount - afterSeq)))
            var chunkSize = schedule.size(handedOut: 0)
            var handedOut = 0
            var epochs: [[UInt8]: BoxKeyPair] = [:]
            // Version 2: each sender session is opened once per page (one X25519), or taken from the reader's cache.
            var sessions: [[UInt8]: SenderSessionKey] = [:]
            var unopenedSessions: Set<[UInt8]> = []
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
                if let sid = m.sessionID, sessions[sid] == nil, !unopenedSessions.contains(sid),
                    let epoch = epochs[m.epochKeyID]
                {
                    do {
                        sessions[sid] = try self.openSenderSession(
                            id: sid, caseID: caseID, epoch: epoch, publicKey: m.sessionPublicKey, as: user)
                    } catch {
                        // A relay's own session that does not open makes its messages unreadable (shown as such);
                        // a session of the vault's that does not open means the database was altered.
                        unopenedSessions.insert(sid)
                        if m.writtenBy?.hasPrefix("relay-sealed:") != true {
                            keyFailure =
                                error as? VaultError ?? .integrity("a sender session of this case failed its check")
                            continue
                        }
                    }
                }
                chunk.append(m)
                if chunk.count == chunkSize {
                    jobs.start { [chunk, epochs, sessions] in try openChunk(chunk, epochs, sessions) }
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
                jobs.start { [chunk, epochs, sessions] in try openChunk(chunk, epochs, sessions) }
            }
            // The unread position moves only when the page is readable: a read that fails for a key stays recorded
            // in the log but leaves the reader's unread count where it was.
            // It only moves forward.
            if let last, keyFailure == nil, last > position?.lastSeq ?? 0 {
                try self.moveReadPosition(
                    db, user: user.id, caseID: caseID, from: position ?? (0, 0), afterSeq: afterSeq, to: last,
                    inboundPastPosition: inboundPastPosition)
            }
            return .success(keyFailure)
        }
        // A denial (recorded) is thrown now; so is a key the user lacks, once the read's entry has committed.
        if let keyFailure = try outcome.get() { throw keyFailure }
        return TranscriptPage(chunks: try await jobs.results())
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
            readInbound += try MessageStore.countInbound(
                db, caseID: caseID, after: position.lastSeq, through: afterSeq)
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO case_reads (user_id, case_id, last_seq, read_inbound) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_id, case_id) DO UPDATE SET last_seq = excluded.last_seq,
                    read_inbound = excluded.read_inbound
                """
        ).execute(arguments: [Data(user.bytes), Data(caseID.bytes), last, readInbound])
    }

    /// The columns `StoredMessage(transcriptRow:)` reads, from `messages m` and what joins it.
    static let transcriptSelect = """
        SELECT m.id, m.seq, m.epoch_key_id, m.direction, m.kind, m.author, m.sent_at, m.body, m.sealed_key,
            m.retracted, m.written_by, c.state AS content_state, c.content_type, c.size AS content_size,
            o.status AS delivery, o.detail AS delivery_detail, m.session_id, s.public_key AS session_public_key
        FROM messages m LEFT JOIN message_content c ON c.message_id = m.id
        LEFT JOIN outbox o ON o.message_id = m.id LEFT JOIN sender_sessions s ON s.id = m.session_id
        """

    /// Opens one stored message with its epoch key (v1) or sender session (v2).
    static func open(
        _ m: StoredMessage, caseID: ID, epoch: BoxKeyPair?, session: SenderSessionKey?, includeRetracted: Bool
    ) throws -> TranscriptMessage {
        let envelope = m.envelope(caseID: caseID)
        guard let epoch else {
            throw VaultError.forbidden("no key for this part of the case")
        }
        let plain: [UInt8]
        do {
            if envelope.sessionID != nil {
                guard let session else { throw VaultError.integrity("a v2 message without its sender session") }
                plain = try envelope.open(in: session)
            } else {
                plain = try envelope.open(with: epoch)
            }
        } catch {
            // A relay-sealed envelope is stored unopened: one the relay built wrong (AAD fields that differ from
            // its cleartext fields) is shown as unreadable instead of failing the whole page.
            if m.writtenBy?.hasPrefix("relay-sealed:") == true {
                return TranscriptMessage(
                    id: m.id, seq: m.seq, direction: m.direction, kind: m.kind, text: nil,
                    data: ["error": .string("does_not_authenticate")], sentAt: m.sentAt, author: m.author,
                    retracted: m.retracted, delivery: m.delivery, deliveryDetail: m.deliveryDetail)
            }
            throw VaultError.integrity("message \(m.id) does not authenticate; the stored row was altered")
        }
        // Most messages are `{"text":"…"}` without escapes: read those directly, parse the rest.
        let hidden = m.retracted && !includeRetracted
        if m.kind == "text", let fast = Self.plainText(plain) {
            return TranscriptMessage(
                id: m.id, seq: m.seq, direction: m.direction, kind: m.kind, text: hidden ? nil : fast, data: nil,
                sentAt: m.sentAt, author: m.author, retracted: m.retracted, delivery: m.delivery,
                deliveryDetail: m.deliveryDetail,
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
            retracted: m.retracted, delivery: m.delivery, deliveryDetail: m.deliveryDetail)
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

}

/// How the transcript's logged read ended: rows handed to workers (with the key failure, if any), or the recorded
/// denial.
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
private final class TranscriptJobs: Sendable {
    private let group = DispatchGroup()
    private let slots = Mutex<[Result<[TranscriptMessage], any Error>?]>([])

    func start(_ work: @escaping @Sendable () throws -> [TranscriptMessage]) {
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
    func results() async throws -> [[TranscriptMessage]] {
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
