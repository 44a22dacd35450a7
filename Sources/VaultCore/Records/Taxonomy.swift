import Foundation
import GRDB

/// One coded value of a desk's taxonomy: a stable code, its Japanese and English labels, and whether it is retired
/// (kept so old records still read, refused for new ones).
public struct TaxonomyItem: Sendable, Equatable, Codable {
    public var code: String
    public var ja: String
    public var en: String
    public var retired: Bool

    public init(code: String, ja: String, en: String, retired: Bool = false) {
        self.code = code
        self.ja = ja
        self.en = en
        self.retired = retired
    }
}

/// A desk's coding scheme for case records (API.md "Case records, triage and statistics"): the five lists a
/// record draws its codes from. Stored per desk as JSON (schema/FORMAT.md "Case records"); a desk without one uses
/// `standard`.
public struct Taxonomy: Sendable, Equatable, Codable {
    public var categories: [TaxonomyItem]
    public var ageBands: [TaxonomyItem]
    public var genders: [TaxonomyItem]
    public var outcomes: [TaxonomyItem]
    public var referrals: [TaxonomyItem]

    public init(
        categories: [TaxonomyItem], ageBands: [TaxonomyItem], genders: [TaxonomyItem], outcomes: [TaxonomyItem],
        referrals: [TaxonomyItem]
    ) {
        self.categories = categories
        self.ageBands = ageBands
        self.genders = genders
        self.outcomes = outcomes
        self.referrals = referrals
    }

    enum CodingKeys: String, CodingKey {
        case categories
        case ageBands = "age_bands"
        case genders, outcomes, referrals
    }

    /// The five lists by their JSON names, in API order.
    public var lists: [(name: String, items: [TaxonomyItem])] {
        [
            ("categories", categories), ("age_bands", ageBands), ("genders", genders), ("outcomes", outcomes),
            ("referrals", referrals),
        ]
    }

    public static let maxItems = 200
    public static let maxLabelBytes = 200
    /// Codes: 1–32 of a-z, 0-9, `_`; `unknown` is reserved for the statistics' cell of records without a value.
    public static let codeRule = "1–32 characters of a-z, 0-9 and _ (not `unknown`)"

    static func isValidCode(_ code: String) -> Bool {
        (1...32).contains(code.utf8.count) && code != "unknown"
            && code.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// Checks every list: at least one item, at most `maxItems`, valid unique codes, labels 1–200 bytes.
    /// - Throws: `.invalidRequest` naming the list and the code (codes are not personal).
    public func validate() throws {
        for (name, items) in lists {
            guard !items.isEmpty, items.count <= Self.maxItems else {
                throw VaultError.invalid("`\(name)` must hold 1–\(Self.maxItems) items")
            }
            var seen = Set<String>()
            for item in items {
                guard Self.isValidCode(item.code) else {
                    throw VaultError.invalid("a code in `\(name)` is not \(Self.codeRule)")
                }
                guard seen.insert(item.code).inserted else {
                    throw VaultError.invalid("`\(name)` lists the code \(item.code) twice")
                }
                for label in [item.ja, item.en] {
                    guard !label.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                        label.utf8.count <= Self.maxLabelBytes
                    else {
                        throw VaultError.invalid(
                            "every label in `\(name)` must be 1–\(Self.maxLabelBytes) bytes (code \(item.code))")
                    }
                }
            }
        }
    }

    /// The default shipped with every desk, modelled on the breakdowns the ministries' SNS consultation reports use.
    public static let standard = Taxonomy(
        categories: [
            .init(code: "bullying", ja: "いじめ", en: "Bullying"),
            .init(code: "school_refusal", ja: "不登校", en: "Not attending school"),
            .init(code: "friends", ja: "友人関係", en: "Friendships"),
            .init(code: "family", ja: "家族関係", en: "Family relationships"),
            .init(code: "abuse", ja: "虐待", en: "Abuse"),
            .init(code: "sexual", ja: "性の悩み・性被害", en: "Sexuality and sexual harm"),
            .init(code: "suicidal", ja: "自殺念慮・自傷", en: "Suicidal thoughts and self-harm"),
            .init(code: "health", ja: "心身の健康", en: "Physical and mental health"),
            .init(code: "study_career", ja: "学業・進路", en: "Study and career"),
            .init(code: "romance", ja: "恋愛", en: "Romantic relationships"),
            .init(code: "teacher", ja: "教職員との関係", en: "Relationships with teachers"),
            .init(code: "online", ja: "インターネット・SNS", en: "Internet and social media"),
            .init(code: "other", ja: "その他", en: "Other"),
        ],
        ageBands: [
            .init(code: "elementary", ja: "小学生", en: "Elementary school"),
            .init(code: "junior_high", ja: "中学生", en: "Junior high school"),
            .init(code: "high_school", ja: "高校生", en: "High school"),
            .init(code: "university", ja: "大学生・専門学校生", en: "University or college"),
            .init(code: "youth_other", ja: "その他の未成年", en: "Other minor"),
            .init(code: "age_20s", ja: "20代", en: "20s"),
            .init(code: "age_30s", ja: "30代", en: "30s"),
            .init(code: "age_40s", ja: "40代", en: "40s"),
            .init(code: "age_50s", ja: "50代", en: "50s"),
            .init(code: "age_60_plus", ja: "60代以上", en: "60 and over"),
        ],
        genders: [
            .init(code: "female", ja: "女性", en: "Female"),
            .init(code: "male", ja: "男性", en: "Male"),
            .init(code: "other", ja: "その他", en: "Other"),
            .init(code: "undisclosed", ja: "回答なし", en: "Not disclosed"),
        ],
        outcomes: [
            .init(code: "concluded", ja: "終了", en: "Concluded"),
            .init(code: "continuing", ja: "継続", en: "Continuing"),
            .init(code: "referred", ja: "他機関紹介", en: "Referred elsewhere"),
            .init(code: "emergency", ja: "緊急対応", en: "Emergency response"),
            .init(code: "dropped", ja: "途中離脱", en: "Left mid-conversation"),
            .init(code: "no_reply", ja: "応答なし", en: "No reply"),
        ],
        referrals: [
            .init(code: "police", ja: "警察", en: "Police"),
            .init(code: "child_guidance", ja: "児童相談所", en: "Child guidance centre"),
            .init(code: "school", ja: "学校", en: "School"),
            .init(code: "phone_line", ja: "電話相談", en: "Telephone helpline"),
            .init(code: "medical", ja: "医療機関", en: "Medical institution"),
            .init(code: "municipal", ja: "市町村窓口", en: "Municipal office"),
            .init(code: "education_board", ja: "教育委員会", en: "Board of education"),
            .init(code: "other", ja: "その他の機関", en: "Other organisation"),
        ])
}

extension Vault {
    /// The desk's taxonomy as stored, or the standard one.
    func taxonomy(_ db: Database, deskID: ID) throws -> Taxonomy {
        guard
            let body = try String.fetchOne(
                db, sql: "SELECT body FROM desk_taxonomies WHERE desk_id = ?", arguments: [Data(deskID.bytes)])
        else { return .standard }
        do {
            return try JSONDecoder().decode(Taxonomy.self, from: Data(body.utf8))
        } catch {
            throw VaultError.integrity("the stored taxonomy of a desk is not valid JSON")
        }
    }

    /// The codes of each list that records of the desk use (a code in use may be retired, never removed).
    func codesInUse(_ db: Database, deskID: ID) throws -> [String: Set<String>] {
        let d = Data(deskID.bytes)
        var out: [String: Set<String>] = [:]
        for (list, kind) in [("categories", "category"), ("referrals", "referral")] {
            out[list] = Set(
                try String.fetchAll(
                    db, sql: "SELECT DISTINCT code FROM case_record_codes WHERE desk_id = ? AND kind = ?",
                    arguments: [d, kind]))
        }
        for (list, column) in [("age_bands", "age_band"), ("genders", "gender"), ("outcomes", "outcome")] {
            out[list] = Set(
                try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT \(column) FROM case_records WHERE desk_id = ? AND \(column) IS NOT NULL",
                    arguments: [d]))
        }
        return out
    }

    /// A desk's taxonomy, for its confirmed members (counselors and supervisors).
    /// - Throws: `.notFound` for no such desk, `.forbidden` (recorded as a denied `taxonomy.read`) for anyone else.
    public func taxonomy(desk name: String, as user: UnlockedUser, requestID: String) async throws -> Taxonomy {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<Taxonomy, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else {
                return try self.refuse(db, caller, "taxonomy.read", "desk:\(name)", .notFound("no desk \(name)"))
            }
            if case .denied(let e) = try self.mayReadDeskRecords(db, deskID: desk.id, user) {
                return try self.refuse(db, caller, "taxonomy.read", "desk:\(name)", e)
            }
            return .success(try self.taxonomy(db, deskID: desk.id))
        }
        return try outcome.get()
    }

    /// Replaces a desk's taxonomy (confirmed supervisors); recorded as `taxonomy.change`.
    /// - Throws: `.invalidRequest` for an invalid taxonomy; `.conflict` when a code in use would disappear (retire
    ///   it instead); `.forbidden` (recorded) for anyone but a confirmed supervisor of the desk.
    public func setTaxonomy(_ t: Taxonomy, desk name: String, as user: UnlockedUser, requestID: String) async throws {
        try t.validate()
        let body = String(decoding: try JSONEncoder().encode(t), as: UTF8.self)
        let caller = user.caller(requestID: requestID)
        let now = now()
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else {
                return try self.refuse(db, caller, "taxonomy.change", "desk:\(name)", .notFound("no desk \(name)"))
            }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, user, else: "only a confirmed supervisor of \(name) changes its taxonomy")
            {
                return try self.refuse(db, caller, "taxonomy.change", "desk:\(name)", e)
            }
            let inUse = try self.codesInUse(db, deskID: desk.id)
            for (list, items) in t.lists {
                let kept = Set(items.map(\.code))
                if let missing = inUse[list]?.subtracting(kept).sorted().first {
                    throw VaultError.conflict(
                        "the code \(missing) of `\(list)` is used by case records; retire it (\"retired\": true) instead of removing it"
                    )
                }
            }
            try db.execute(
                sql: """
                    INSERT INTO desk_taxonomies (desk_id, body, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (desk_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
                    """, arguments: [Data(desk.id.bytes), body, now])
            try self.record(db, caller, "taxonomy.change", "desk:\(name)")
            return .success(())
        }
        try outcome.get()
    }
}
