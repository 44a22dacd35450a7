import Foundation
import GRDB

/// The coded end-of-consultation record (対応記録) a counselor writes: codes from the desk's taxonomy only, no text.
public struct CaseRecordInput: Sendable, Equatable {
    public var categories: [String]
    public var ageBand: String?
    public var gender: String?
    public var outcome: String?
    public var referrals: [String]

    public init(
        categories: [String] = [], ageBand: String? = nil, gender: String? = nil, outcome: String? = nil,
        referrals: [String] = []
    ) {
        self.categories = categories
        self.ageBand = ageBand
        self.gender = gender
        self.outcome = outcome
        self.referrals = referrals
    }

    public static let maxCodes = 32
}

/// A case's record as `GET /v1/cases/{id}/record` answers it: the coded fields (empty before anyone wrote one)
/// and the figures computed from the case's messages.
public struct CaseRecordView: Sendable, Equatable {
    public var record: CaseRecordInput
    /// Seconds from the first inbound message to the first staff reply (automatic messages excluded); nil before.
    public var firstResponseSeconds: Int64?
    /// Seconds from the case's opening to its closing, or while open to its last inbound message or staff reply.
    public var durationSeconds: Int64?
    public var inboundCount: Int
    /// Staff replies (automatic messages excluded).
    public var outboundCount: Int
    /// When the record was last written; nil when it never was.
    public var updatedAt: Int64?
}

extension Vault {
    /// The author of automatic messages (auto-replies): never a username (a colon is not allowed in one), and not
    /// counted as a staff reply by records, triage or statistics.
    public static let automaticAuthor = "vault:auto"

    /// A case's coded record and computed figures, for the desk's confirmed counselors and supervisors.
    /// - Throws: `.notFound`; `.forbidden` (recorded as a denied `record.read`) for anyone else.
    public func caseRecord(_ caseID: ID, as user: UnlockedUser, requestID: String) async throws -> CaseRecordView {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<CaseRecordView, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            if case .denied(let e) = try self.mayReadDeskRecords(db, deskID: c.deskID, user) {
                return try self.refuse(db, caller, "record.read", "case:\(caseID)", e)
            }
            return .success(try Self.recordView(db, caseID: caseID))
        }
        return try outcome.get()
    }

    /// Writes a case's coded record (the assignee or a confirmed supervisor of the desk); recorded as `record.write`.
    /// - Throws: `.invalidRequest` for a code the desk's taxonomy does not list or has retired (a retired code
    ///   already on this record may stay), duplicates or too many codes; `.forbidden` (recorded) for others.
    public func writeCaseRecord(_ input: CaseRecordInput, caseID: ID, as user: UnlockedUser, requestID: String)
        async throws -> CaseRecordView
    {
        guard input.categories.count <= CaseRecordInput.maxCodes, input.referrals.count <= CaseRecordInput.maxCodes
        else { throw VaultError.invalid("at most \(CaseRecordInput.maxCodes) categories and referrals") }
        guard Set(input.categories).count == input.categories.count, Set(input.referrals).count == input.referrals.count
        else { throw VaultError.invalid("a code is listed twice") }
        let now = now()
        return try await withWorkedCase(caseID, user: user, requestID: requestID, action: "record.write") { db, c, _ in
            let taxonomy = try self.taxonomy(db, deskID: c.deskID)
            let existing = try Self.storedRecord(db, caseID: caseID) ?? CaseRecordInput()
            func check(_ codes: [String], _ items: [TaxonomyItem], _ kept: [String], _ field: String) throws {
                for code in codes {
                    guard let item = items.first(where: { $0.code == code }) else {
                        throw VaultError.invalid("`\(field)`: the desk's taxonomy has no code \(Self.printable(code))")
                    }
                    guard !item.retired || kept.contains(code) else {
                        throw VaultError.invalid("`\(field)`: the code \(code) is retired")
                    }
                }
            }
            try check(input.categories, taxonomy.categories, existing.categories, "categories")
            try check(input.referrals, taxonomy.referrals, existing.referrals, "referrals")
            try check(
                input.ageBand.map { [$0] } ?? [], taxonomy.ageBands, existing.ageBand.map { [$0] } ?? [], "age_band")
            try check(input.gender.map { [$0] } ?? [], taxonomy.genders, existing.gender.map { [$0] } ?? [], "gender")
            try check(
                input.outcome.map { [$0] } ?? [], taxonomy.outcomes, existing.outcome.map { [$0] } ?? [], "outcome")
            let cid = Data(caseID.bytes)
            try db.execute(
                sql: """
                    INSERT INTO case_records (case_id, desk_id, age_band, gender, outcome, updated_at, updated_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (case_id) DO UPDATE SET age_band = excluded.age_band, gender = excluded.gender,
                        outcome = excluded.outcome, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                    """,
                arguments: [cid, Data(c.deskID.bytes), input.ageBand, input.gender, input.outcome, now, user.username])
            try db.execute(sql: "DELETE FROM case_record_codes WHERE case_id = ?", arguments: [cid])
            for (kind, codes) in [("category", input.categories), ("referral", input.referrals)] {
                for code in codes {
                    try db.execute(
                        sql: "INSERT INTO case_record_codes (case_id, desk_id, kind, code) VALUES (?, ?, ?, ?)",
                        arguments: [cid, Data(c.deskID.bytes), kind, code])
                }
            }
            return try Self.recordView(db, caseID: caseID)
        }
    }

    /// A code as an error message may show it: a valid code verbatim, anything else not at all.
    static func printable(_ code: String) -> String {
        Taxonomy.isValidCode(code) ? code : "(not a valid code)"
    }

    static func storedRecord(_ db: Database, caseID: ID) throws -> CaseRecordInput? {
        let cid = Data(caseID.bytes)
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT age_band, gender, outcome FROM case_records WHERE case_id = ?", arguments: [cid])
        else { return nil }
        var r = CaseRecordInput(ageBand: row["age_band"], gender: row["gender"], outcome: row["outcome"])
        for code in try Row.fetchAll(
            db, sql: "SELECT kind, code FROM case_record_codes WHERE case_id = ? ORDER BY kind, rowid", arguments: [cid]
        ) {
            if (code["kind"] as String) == "category" {
                r.categories.append(code["code"])
            } else {
                r.referrals.append(code["code"])
            }
        }
        return r
    }

    static func recordView(_ db: Database, caseID: ID) throws -> CaseRecordView {
        let cid = Data(caseID.bytes)
        let record = try storedRecord(db, caseID: caseID)
        let updatedAt = try Int64.fetchOne(
            db, sql: "SELECT updated_at FROM case_records WHERE case_id = ?", arguments: [cid])
        let figures = try Row.fetchOne(
            db,
            sql: """
                SELECT min(CASE WHEN direction = 'inbound' THEN sent_at END) AS first_in,
                    sum(direction = 'inbound') AS inbound,
                    sum(direction = 'outbound' AND author <> ?) AS outbound,
                    max(CASE WHEN direction = 'inbound' OR (direction = 'outbound' AND author <> ?) THEN sent_at END)
                        AS last_any
                FROM messages WHERE case_id = ?
                """, arguments: [automaticAuthor, automaticAuthor, cid])
        let firstIn: Int64? = figures.flatMap { $0["first_in"] as Int64? }
        let inbound: Int = figures.flatMap { $0["inbound"] as Int? } ?? 0
        let outbound: Int = figures.flatMap { $0["outbound"] as Int? } ?? 0
        var firstResponse: Int64?
        if let firstIn {
            let reply = try Int64.fetchOne(
                db,
                sql: """
                    SELECT min(sent_at) FROM messages
                    WHERE case_id = ? AND direction = 'outbound' AND author <> ? AND sent_at >= ?
                    """, arguments: [cid, automaticAuthor, firstIn])
            firstResponse = reply.map { ($0 - firstIn) / 1000 }
        }
        let lastAny: Int64? = figures.flatMap { $0["last_any"] as Int64? }
        let times = try Row.fetchOne(
            db, sql: "SELECT opened_at, closed_at, status FROM cases WHERE id = ?", arguments: [cid])
        let openedAt: Int64? = times.flatMap { $0["opened_at"] as Int64? }
        var closedAt: Int64?
        if let times, (times["status"] as String) == "closed" { closedAt = times["closed_at"] as Int64? }
        let end = closedAt ?? lastAny
        return CaseRecordView(
            record: record ?? CaseRecordInput(), firstResponseSeconds: firstResponse,
            durationSeconds: openedAt.flatMap { o in end.map { max(0, $0 - o) / 1000 } },
            inboundCount: inbound, outboundCount: outbound, updatedAt: updatedAt)
    }
}
