import Foundation
import GRDB
import VaultCrypto

/// A desk's triage keyword lists (API.md `PUT /v1/desks/{desk}/triage`): words that, found in an inbound text,
/// raise the case's risk to the list's level and set the case's `keyword` flag.
public struct TriageKeywords: Sendable, Equatable {
    public var imminent: [String]
    public var high: [String]
    public var medium: [String]

    public init(imminent: [String] = [], high: [String] = [], medium: [String] = []) {
        self.imminent = imminent
        self.high = high
        self.medium = medium
    }

    /// The lists from the most urgent level down.
    var levels: [(risk: String, words: [String])] { [("imminent", imminent), ("high", high), ("medium", medium)] }

    public static let maxWords = 500
    public static let maxWordBytes = 100

    /// - Throws: `.invalidRequest` for an empty or oversize word, or too many (words are never echoed).
    public func validate() throws {
        for (risk, words) in levels {
            guard words.count <= Self.maxWords else {
                throw VaultError.invalid("`keywords.\(risk)` holds more than \(Self.maxWords) words")
            }
            for w in words {
                let n = Self.normalize(w)
                guard !n.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, w.utf8.count <= Self.maxWordBytes
                else {
                    throw VaultError.invalid("every word in `keywords.\(risk)` must be 1–\(Self.maxWordBytes) bytes")
                }
            }
        }
    }

    /// NFKC (full-width Latin and half-width kana fold to their usual forms), then lowercase.
    static func normalize(_ s: String) -> String { s.precomposedStringWithCompatibilityMapping.lowercased() }

    /// The most urgent level whose list has a word in `text` (compared NFKC-normalised), or nil.
    func match(_ text: String) -> String? {
        let t = Self.normalize(text)
        for (risk, words) in levels where words.contains(where: { t.contains(Self.normalize($0)) }) {
            return risk
        }
        return nil
    }

    /// The stored JSON `{"high":[…],"imminent":[…],"medium":[…]}` (sealed before it is written).
    func json() throws -> [UInt8] {
        Array(
            try JSONSerialization.data(
                withJSONObject: ["imminent": imminent, "high": high, "medium": medium], options: [.sortedKeys]))
    }

    init(json: [UInt8]) throws {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: [String]] else {
            throw VaultError.integrity("the stored triage keywords are malformed")
        }
        self.init(imminent: o["imminent"] ?? [], high: o["high"] ?? [], medium: o["medium"] ?? [])
    }
}

extension Vault {
    static let triageKeywordsLabel = Array("consultvault/triage-keywords/v1".utf8)
    /// Risk levels in order of urgency (a keyword or hint only ever raises a case's risk).
    static let riskRank = ["none": 0, "low": 1, "medium": 2, "high": 3, "imminent": 4]

    /// Seals a desk's keyword lists like the LINE channel secret: crypto_secretbox under `keys/vault-box.key`,
    /// bound to the desk by the label and desk id inside the box (schema/FORMAT.md "Triage keywords").
    func sealTriageKeywords(_ k: TriageKeywords, deskID: ID) throws -> [UInt8] {
        var json = try k.json()
        defer { SecretBytes.wipe(&json) }
        var plain = Canonical.encode([Self.triageKeywordsLabel, deskID.bytes, json])
        defer { SecretBytes.wipe(&plain) }
        return try SecretBox.seal(try SecretBytes(copying: plain), key: keys.box)
    }

    func openTriageKeywords(_ box: [UInt8], deskID: ID) throws -> TriageKeywords {
        let opened = try SecretBox.open(box, key: keys.box)
        var bytes = opened.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        var fields = try Canonical.decode(bytes)
        defer {
            for i in fields.indices { SecretBytes.wipe(&fields[i]) }
        }
        guard fields.count == 3, fields[0] == Self.triageKeywordsLabel, fields[1] == deskID.bytes else {
            throw VaultError.integrity("the stored triage keywords belong to another desk")
        }
        return try TriageKeywords(json: fields[2])
    }

    func storedTriageKeywords(_ db: Database, deskID: ID) throws -> TriageKeywords? {
        guard
            let box = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT keywords_box FROM desk_triage WHERE desk_id = ?"),
                arguments: [Data(deskID.bytes)])
        else { return nil }
        return try openTriageKeywords(Array(box), deskID: deskID)
    }

    /// The ingest hook (plain and LINE forms), inside the ingest's transaction, with the plaintext before it is
    /// sealed: when a word of the desk's lists occurs in the message text, raises the case's risk to that list's
    /// level (never lowers it) and sets its `keyword` flag. Which word matched is not kept anywhere.
    func applyKeywordTriage(_ db: Database, deskID: ID, caseID: ID, kind: String, plaintext: [UInt8]) throws {
        guard kind == "text", let keywords = try storedTriageKeywords(db, deskID: deskID) else { return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(plaintext)) as? [String: Any],
            let text = object["text"] as? String, let level = keywords.match(text)
        else { return }
        try raiseRisk(db, caseID: caseID, to: level, keyword: true)
    }

    /// The relay-sealed form's `"triage"` hint: raises the case's risk to `level` (never lowers it).
    /// - Throws: `.invalidRequest` for a level other than imminent, high, medium.
    public static func checkTriageHint(_ level: String) throws {
        guard ["imminent", "high", "medium"].contains(level) else {
            throw VaultError.invalid("`triage` must be imminent, high or medium")
        }
    }

    func raiseRisk(_ db: Database, caseID: ID, to level: String, keyword: Bool) throws {
        try db.execute(
            sql: """
                UPDATE cases SET risk = CASE WHEN (CASE risk WHEN 'imminent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                    WHEN 'low' THEN 1 ELSE 0 END) < ? THEN ? ELSE risk END
                WHERE id = ?
                """, arguments: [Self.riskRank[level] ?? 0, level, Data(caseID.bytes)])
        if keyword {
            try db.execute(
                sql: "INSERT OR IGNORE INTO case_keyword_flags (case_id, flagged_at) VALUES (?, ?)",
                arguments: [Data(caseID.bytes), now()])
        }
    }

    /// A desk's keyword lists, for its confirmed supervisors (recorded as `triage.read`).
    /// - Throws: `.notFound`; `.forbidden` (recorded) for anyone else.
    public func triageKeywords(desk name: String, as user: UnlockedUser, requestID: String) async throws
        -> TriageKeywords
    {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<TriageKeywords, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else {
                return try self.refuse(db, caller, "triage.read", "desk:\(name)", .notFound("no desk \(name)"))
            }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a confirmed supervisor of \(name) reads its triage keywords")
            {
                return try self.refuse(db, caller, "triage.read", "desk:\(name)", e)
            }
            try self.record(db, caller, "triage.read", "desk:\(name)")
            return .success(try self.storedTriageKeywords(db, deskID: desk.id) ?? TriageKeywords())
        }
        return try outcome.get()
    }

    /// Replaces a desk's keyword lists (confirmed supervisors), sealed; recorded as `triage.change` (without the
    /// words).
    /// - Throws: `.invalidRequest`; `.notFound`; `.forbidden` (recorded).
    public func setTriageKeywords(_ k: TriageKeywords, desk name: String, as user: UnlockedUser, requestID: String)
        async throws
    {
        try k.validate()
        let caller = user.caller(requestID: requestID)
        let now = now()
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else {
                return try self.refuse(db, caller, "triage.change", "desk:\(name)", .notFound("no desk \(name)"))
            }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a confirmed supervisor of \(name) sets its triage keywords")
            {
                return try self.refuse(db, caller, "triage.change", "desk:\(name)", e)
            }
            let box = try self.sealTriageKeywords(k, deskID: desk.id)
            try db.execute(
                sql: """
                    INSERT INTO desk_triage (desk_id, keywords_box, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (desk_id) DO UPDATE SET keywords_box = excluded.keywords_box,
                        updated_at = excluded.updated_at
                    """, arguments: [Data(desk.id.bytes), Data(box), now])
            try self.record(db, caller, "triage.change", "desk:\(name)")
            return .success(())
        }
        try outcome.get()
    }
}
