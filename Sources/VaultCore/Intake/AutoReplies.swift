import Foundation
import GRDB
import VaultCrypto

/// A desk's automatic messages (API.md `GET`/`PUT /v1/desks/{desk}/auto-replies`, "Automatic messages").
public struct AutoReplySettings: Sendable, Equatable {
    public var timeZone: String
    /// Opening hours per weekday key (`mon` … `sun`): [start, end) as minutes since local midnight.
    public var hours: [String: [[Int]]]
    public var closedDates: [String]
    public var welcome: String?
    public var outOfHours: String?
    public var busyAfterMinutes: Int?
    public var busyText: String?

    public init(
        timeZone: String = "Asia/Tokyo", hours: [String: [[Int]]] = [:], closedDates: [String] = [],
        welcome: String? = nil, outOfHours: String? = nil, busyAfterMinutes: Int? = nil, busyText: String? = nil
    ) {
        self.timeZone = timeZone
        self.hours = hours
        self.closedDates = closedDates
        self.welcome = welcome
        self.outOfHours = outOfHours
        self.busyAfterMinutes = busyAfterMinutes
        self.busyText = busyText
    }

    public static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// "HH:MM" → minutes (00:00–24:00).
    public static func minutes(_ s: String) -> Int? {
        let p = s.split(separator: ":")
        guard s.utf8.count == 5, p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h),
            (0...59).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    public static func clock(_ minutes: Int) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }

    /// - Throws: `.invalidRequest` naming the field.
    public func validate() throws {
        guard TimeZone(identifier: timeZone) != nil else { throw VaultError.invalid("`timezone` is not a time zone") }
        for (day, spans) in hours {
            guard Self.weekdays.contains(day) else { throw VaultError.invalid("`hours` keys are mon … sun") }
            guard spans.count <= 8 else { throw VaultError.invalid("`hours.\(day)` has more than 8 spans") }
            for span in spans where span.count != 2 || span[0] >= span[1] {
                throw VaultError.invalid("`hours.\(day)` spans are [\"HH:MM\", \"HH:MM\"] with start before end")
            }
        }
        guard closedDates.count <= 400, closedDates.allSatisfy({ StatisticsCalendar.isDate($0) }) else {
            throw VaultError.invalid("`closed_dates` are at most 400 dates, YYYY-MM-DD")
        }
        for (name, text) in [("welcome", welcome), ("out_of_hours", outOfHours), ("busy.text", busyText)] {
            if let text, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || text.count > 5000 {
                throw VaultError.invalid("`\(name)` must be 1–5000 characters or null")
            }
        }
        if let n = busyAfterMinutes, !(1...1440).contains(n) {
            throw VaultError.invalid("`busy.after_minutes` must be 1–1440")
        }
        guard (busyAfterMinutes == nil) == (busyText == nil) else {
            throw VaultError.invalid("`busy` needs both `after_minutes` and `text`")
        }
    }

    /// Is the desk open at `ms` (Unix ms)? Closed on a closed date; otherwise open inside a span of that weekday.
    /// No hours at all means always open (out-of-hours never fires).
    func isOpen(at ms: Int64) -> Bool {
        guard !hours.isEmpty, let zone = TimeZone(identifier: timeZone) else { return true }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: date)
        let day = String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
        if closedDates.contains(day) { return false }
        let key = Self.weekdays[((c.weekday ?? 1) + 5) % 7]
        let minute = (c.hour ?? 0) * 60 + (c.minute ?? 0)
        return (hours[key] ?? []).contains { minute >= $0[0] && minute < $0[1] }
    }

    /// The closed period `ms` falls in, named by the minute the desk next opens (Unix ms), so every message of one
    /// night, one closed date or one lunch break maps to the same key: out-of-hours goes once per case and period.
    func closedPeriod(at ms: Int64) -> String {
        // Forward on a 15-minute grid (at most 8 days) to the first open time, then back minute by minute to the
        // opening itself (spans may start at any minute).
        let quarter: Int64 = 15 * 60_000
        var t = (ms / quarter) * quarter
        for _ in 0..<(8 * 96) {
            t += quarter
            if isOpen(at: t) {
                var opening = t
                while opening - 60_000 > ms, isOpen(at: opening - 60_000) { opening -= 60_000 }
                return String(opening)
            }
        }
        return "never"
    }

    func json() throws -> [UInt8] {
        var o: [String: Any] = [
            "timezone": timeZone,
            "hours": hours.mapValues { $0.map { [Self.clock($0[0]), Self.clock($0[1])] } },
            "closed_dates": closedDates,
            "welcome": welcome ?? NSNull(), "out_of_hours": outOfHours ?? NSNull(),
        ]
        if let n = busyAfterMinutes, let t = busyText {
            o["busy"] = ["after_minutes": n, "text": t]
        } else {
            o["busy"] = NSNull()
        }
        return Array(try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]))
    }

    /// Parses API.md's JSON object (also the stored form).
    /// - Throws: `.invalidRequest` for wrong shapes.
    public init(json: [UInt8]) throws {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
            throw VaultError.invalid("the body is not a JSON object")
        }
        let allowed: Set<String> = ["timezone", "hours", "closed_dates", "welcome", "out_of_hours", "busy"]
        guard Set(o.keys).isSubset(of: allowed) else {
            throw VaultError.invalid("unknown field; expected \(allowed.sorted().joined(separator: ", "))")
        }
        func text(_ k: String) throws -> String? {
            switch o[k] {
            case nil, is NSNull: return nil
            case let s as String: return s
            default: throw VaultError.invalid("`\(k)` must be a string or null")
            }
        }
        self.init()
        if let tz = o["timezone"] {
            guard let s = tz as? String else { throw VaultError.invalid("`timezone` must be a string") }
            timeZone = s
        }
        if let h = o["hours"] {
            guard let d = h as? [String: Any] else { throw VaultError.invalid("`hours` must be an object") }
            for (day, v) in d {
                guard let spans = v as? [[String]] else {
                    throw VaultError.invalid("`hours.\(day)` must be a list of [\"HH:MM\", \"HH:MM\"]")
                }
                hours[day] = try spans.map { span in
                    guard span.count == 2, let a = Self.minutes(span[0]), let b = Self.minutes(span[1]) else {
                        throw VaultError.invalid("`hours.\(day)` must be a list of [\"HH:MM\", \"HH:MM\"]")
                    }
                    return [a, b]
                }
            }
        }
        if let c = o["closed_dates"] {
            guard let dates = c as? [String] else { throw VaultError.invalid("`closed_dates` must be strings") }
            closedDates = dates
        }
        welcome = try text("welcome")
        outOfHours = try text("out_of_hours")
        switch o["busy"] {
        case nil, is NSNull: break
        case let b as [String: Any]:
            guard let n = b["after_minutes"] as? Int, let t = b["text"] as? String,
                b.count == 2
            else { throw VaultError.invalid("`busy` must be {\"after_minutes\": N, \"text\": text} or null") }
            busyAfterMinutes = n
            busyText = t
        default: throw VaultError.invalid("`busy` must be {\"after_minutes\": N, \"text\": text} or null")
        }
    }

    public var publicJSON: Data { Data((try? json()) ?? []) }
}

extension StatisticsCalendar {
    static func isDate(_ s: String) -> Bool {
        StatisticsCalendar(zone: TimeZone(identifier: "UTC")!).startOfDay(s) != nil
    }
}

extension Vault {
    static let autoRepliesLabel = Array("consultvault/auto-replies/v1".utf8)
    /// The access-log actor of automatic messages.
    static let autoReplyCaller = Caller(actor: "system", role: "system", requestID: "auto-reply")

    func sealAutoReplies(_ s: AutoReplySettings, deskID: ID) throws -> [UInt8] {
        var json = try s.json()
        defer { SecretBytes.wipe(&json) }
        var plain = Canonical.encode([Self.autoRepliesLabel, deskID.bytes, json])
        defer { SecretBytes.wipe(&plain) }
        return try SecretBox.seal(try SecretBytes(copying: plain), key: keys.box)
    }

    func storedAutoReplies(_ db: Database, deskID: ID) throws -> AutoReplySettings? {
        guard
            let box = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT box FROM desk_auto_replies WHERE desk_id = ?"),
                arguments: [Data(deskID.bytes)])
        else { return nil }
        let opened = try SecretBox.open(Array(box), key: keys.box)
        var bytes = opened.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        let fields = try Canonical.decode(bytes)
        guard fields.count == 3, fields[0] == Self.autoRepliesLabel, fields[1] == deskID.bytes else {
            throw VaultError.integrity("the stored auto-reply settings belong to another desk")
        }
        return try AutoReplySettings(json: fields[2])
    }

    /// The desk's automatic messages (confirmed counselors and supervisors).
    public func autoReplies(desk name: String, as user: UnlockedUser, requestID: String) async throws
        -> AutoReplySettings
    {
        try await withDesk(
            name, user, requestID: requestID, action: "autoreply.read", record: false,
            rule: .members
        ) { db, desk in try self.storedAutoReplies(db, deskID: desk.id) ?? AutoReplySettings() }
    }

    /// Replaces the desk's automatic messages (confirmed supervisors), sealed; recorded as `autoreply.change`.
    public func setAutoReplies(_ s: AutoReplySettings, desk name: String, as user: UnlockedUser, requestID: String)
        async throws
    {
        try s.validate()
        let now = now()
        try await withDesk(
            name, user, requestID: requestID, action: "autoreply.change", record: true,
            rule: .supervisors("only a confirmed supervisor of \(name) sets automatic messages")
        ) { db, desk in
            try db.execute(
                sql: """
                    INSERT INTO desk_auto_replies (desk_id, box, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (desk_id) DO UPDATE SET box = excluded.box, updated_at = excluded.updated_at
                    """, arguments: [Data(desk.id.bytes), Data(try self.sealAutoReplies(s, deskID: desk.id)), now])
        }
    }

    /// The ingest hook for automatic messages (plain and LINE forms, inside the ingest's transaction, after the
    /// inbound record is stored): the welcome on a follow event; out-of-hours on a message outside the desk's hours,
    /// once per case and closed period; and, when a waiting spell starts, the busy message prepared (sealed to the
    /// relay key, with the channel user only the ingest has in clear) for `sendDueBusyMessages`.
    func applyAutoReplies(_ db: Database, deskID: ID, caseID: ID, item: InboundItem) throws {
        guard let settings = try storedAutoReplies(db, deskID: deskID) else { return }
        let desk = try desk(db, id: deskID)
        guard desk.manifest.relayPublic.count == 32 else { return }  // no relay key: nothing can be sent
        if item.kind == "follow" {
            if let text = settings.welcome, try claim(db, caseID: caseID, kind: "welcome", key: item.externalID ?? "") {
                try sendAutomatic(db, caseID: caseID, desk: desk, text: text, to: item.channelUser, what: "welcome")
            }
            return
        }
        guard item.direction == "inbound" else { return }
        if let text = settings.outOfHours, !settings.isOpen(at: item.sentAt),
            try claim(db, caseID: caseID, kind: "out_of_hours", key: settings.closedPeriod(at: item.sentAt))
        {
            try sendAutomatic(db, caseID: caseID, desk: desk, text: text, to: item.channelUser, what: "out_of_hours")
        }
        if let minutes = settings.busyAfterMinutes, let text = settings.busyText,
            let since = try waitingSince(db, caseID: caseID)
        {
            let box = try sealAutomatic(text: text, to: item.channelUser, relayKey: desk.manifest.relayPublic)
            try db.execute(
                sql: """
                    INSERT INTO auto_busy_pending (case_id, spell, due_at, text, box) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (case_id) DO UPDATE SET spell = excluded.spell, due_at = excluded.due_at,
                        text = excluded.text, box = excluded.box
                    WHERE auto_busy_pending.spell <> excluded.spell
                    """,
                arguments: [
                    caseID.bytes.asData, since, since + Int64(minutes) * 60_000,
                    Data(try sealBusyText(text, caseID: caseID)), Data(box),
                ])
        }
    }

    /// The case's `waiting_since` (CaseListing.swift), or nil.
    func waitingSince(_ db: Database, caseID: ID) throws -> Int64? {
        let id = Data(caseID.bytes)
        return try Int64.fetchOne(
            db, sql: "SELECT \(Self.waitingSinceSQL.replacingOccurrences(of: "c.id", with: "?"))",
            arguments: [id, id, Self.automaticAuthor])
    }

    /// The ingest hooks of issue 17, called once from `storeInbound` (plain and LINE forms) inside the ingest's
    /// transaction with the plaintext before it is sealed: keyword triage, then automatic messages.
    func intakeHooks(_ db: Database, deskID: ID, caseID: ID, item: InboundItem) throws {
        try applyKeywordTriage(db, deskID: deskID, caseID: caseID, kind: item.kind, plaintext: item.plaintext)
        try applyAutoReplies(db, deskID: deskID, caseID: caseID, item: item)
    }

    /// Records that `kind` fired for (case, key); false when it already had (never twice for the same trigger).
    func claim(_ db: Database, caseID: ID, kind: String, key: String) throws -> Bool {
        try db.execute(
            sql: "INSERT OR IGNORE INTO auto_replies_sent (case_id, kind, trigger_key, sent_at) VALUES (?, ?, ?, ?)",
            arguments: [caseID.bytes.asData, kind, key, now()])
        return db.changesCount == 1
    }

    /// `{"retry_key","text","to"}` sealed to the relay key (schema/FORMAT.md §14).
    func sealAutomatic(text: String, to channelUser: String, relayKey: [UInt8]) throws -> [UInt8] {
        var inner = Plaintext.object([
            ("retry_key", .string(ID.v4().description)), ("text", .string(text)), ("to", .string(channelUser)),
        ])
        defer { SecretBytes.wipe(&inner) }
        return try SealedBox.seal(inner, to: relayKey)
    }

    /// The busy text kept with a pending busy message, sealed under the box key (it is the desk's setting).
    func sealBusyText(_ text: String, caseID: ID) throws -> [UInt8] {
        try SecretBox.seal(
            try SecretBytes(
                copying: Canonical.encode([Array("consultvault/busy-text/v1".utf8), caseID.bytes, Array(text.utf8)])),
            key: keys.box)
    }

    func openBusyText(_ box: [UInt8], caseID: ID) throws -> String {
        let opened = try SecretBox.open(box, key: keys.box)
        let fields = try opened.withUnsafeBytes { try Canonical.decode(Array($0)) }
        guard fields.count == 3, fields[1] == caseID.bytes else { throw VaultError.integrity("busy text mismatch") }
        return String(decoding: fields[2], as: UTF8.self)
    }

    /// Stores an automatic message: an outbound envelope (author `vault:auto`, version 2 in the vault's sender session
    /// for the case's current epoch),
    /// an outbox item, and one access-log entry with actor `system`, in the caller's transaction.
    func sendAutomatic(_ db: Database, caseID: ID, desk: DeskState, text: String, to channelUser: String, what: String)
        throws
    {
        let box = try sealAutomatic(text: text, to: channelUser, relayKey: desk.manifest.relayPublic)
        try storeAutomatic(db, caseID: caseID, desk: desk, text: text, box: box, what: what)
    }

    func storeAutomatic(_ db: Database, caseID: ID, desk: DeskState, text: String, box: [UInt8], what: String) throws {
        guard let c = try findCase(db, id: caseID) else { throw VaultError.integrity("case vanished") }
        let epoch = try epochKey(db, case: c, epoch: c.currentEpoch)
        let now = now()
        var plaintext = Plaintext.text(text)
        defer { SecretBytes.wipe(&plaintext) }
        let (envelope, sessionPublicKey) = try sealEnvelope(
            plaintext, messageID: ID.v7(milliseconds: now), caseID: c.id, epochPublicKey: epoch.publicKey,
            direction: "outbound", kind: "text", author: Self.automaticAuthor, sentAt: now)
        try MessageStore.insert(
            db, envelope, sessionPublicKey: sessionPublicKey, case: c, externalID: nil,
            writtenBy: Self.automaticAuthor, now: now)
        try db.execute(
            sql: """
                INSERT INTO outbox (id, message_id, case_id, desk_id, relay_key_id, box, status, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                """,
            arguments: [
                Data(ID.v7(milliseconds: now).bytes), Data(envelope.messageID.bytes), Data(c.id.bytes),
                Data(c.deskID.bytes), Data(Hashing.keyID(desk.manifest.relayPublic)), Data(box), now, now,
            ])
        try record(
            db, Self.autoReplyCaller, "reply.write", "message:\(envelope.messageID) auto:\(what)",
            envelopeHash: envelope.hash)
    }

    /// The periodic busy check (`serve`'s janitor): every prepared busy message whose waiting spell is still open
    /// and has waited long enough is sent, each in its own transaction with its claim, so a restart neither repeats
    /// nor drops one; a spell that ended (a staff reply) drops its pending message.
    /// - Returns: how many were sent.
    @discardableResult
    public func sendDueBusyMessages() async throws -> Int {
        let now = now()
        let due = try await database.read { db in
            try Data.fetchAll(db, sql: "SELECT case_id FROM auto_busy_pending WHERE due_at <= ?", arguments: [now])
        }
        var sent = 0
        for raw in due {
            guard let caseID = ID(bytes: Array(raw)) else { continue }
            let did: Bool = try await database.transaction { db in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT spell, text, box FROM auto_busy_pending WHERE case_id = ? AND due_at <= ?",
                        arguments: [raw, now])
                else { return false }
                try db.execute(sql: "DELETE FROM auto_busy_pending WHERE case_id = ?", arguments: [raw])
                let spell: Int64 = row["spell"]
                let current = try self.waitingSince(db, caseID: caseID)
                guard current == spell, let c = try self.findCase(db, id: caseID), c.status == "open",
                    try self.claim(db, caseID: caseID, kind: "busy", key: String(spell))
                else { return false }
                let desk = try self.desk(db, id: c.deskID)
                let text = try self.openBusyText(Array(row["text"] as Data), caseID: caseID)
                try self.storeAutomatic(
                    db, caseID: caseID, desk: desk, text: text, box: Array(row["box"] as Data), what: "busy")
                return true
            }
            if did { sent += 1 }
        }
        return sent
    }
}

extension [UInt8] {
    fileprivate var asData: Data { Data(self) }
}
