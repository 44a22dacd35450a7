import Foundation
import GRDB
import VaultCrypto

/// A desk's canned reply (API.md `/v1/desks/{desk}/templates`): boilerplate counselors paste into replies.
public struct ReplyTemplate: Sendable, Equatable {
    public let id: ID
    public var title: String
    public var text: String

    public init(id: ID, title: String, text: String) {
        self.id = id
        self.title = title
        self.text = text
    }

    public static let maxTitleBytes = 200
    /// LINE's limit for one message (a template is sent as a reply).
    public static let maxTextCharacters = 5000
    public static let maxPerDesk = 200

    /// - Throws: `.invalidRequest` for an empty or oversize title or text.
    static func validate(title: String, text: String) throws {
        guard !title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, title.utf8.count <= maxTitleBytes else {
            throw VaultError.invalid("`title` must be 1–\(maxTitleBytes) bytes")
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, text.count <= maxTextCharacters else {
            throw VaultError.invalid("`text` must be 1–\(maxTextCharacters) characters (LINE's message limit)")
        }
    }
}

extension Vault {
    static let templateLabel = Array("consultvault/reply-template/v1".utf8)

    /// Templates are desk boilerplate, but a counselor may paste something case-like into one, so they are sealed
    /// like the LINE channel secret and the triage keywords: crypto_secretbox under `keys/vault-box.key`, bound to
    /// the desk and the template id (schema/FORMAT.md §23).
    func sealTemplate(_ t: ReplyTemplate, deskID: ID) throws -> [UInt8] {
        var json = Array(
            try JSONSerialization.data(withJSONObject: ["title": t.title, "text": t.text], options: [.sortedKeys]))
        defer { SecretBytes.wipe(&json) }
        var plain = Canonical.encode([Self.templateLabel, deskID.bytes, t.id.bytes, json])
        defer { SecretBytes.wipe(&plain) }
        return try SecretBox.seal(try SecretBytes(copying: plain), key: keys.box)
    }

    func openTemplate(_ box: [UInt8], id: ID, deskID: ID) throws -> ReplyTemplate {
        let opened = try SecretBox.open(box, key: keys.box)
        var bytes = opened.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&bytes) }
        let fields = try Canonical.decode(bytes)
        guard fields.count == 4, fields[0] == Self.templateLabel, fields[1] == deskID.bytes, fields[2] == id.bytes,
            let o = try? JSONSerialization.jsonObject(with: Data(fields[3])) as? [String: String],
            let title = o["title"], let text = o["text"]
        else { throw VaultError.integrity("a stored template belongs to another desk or template") }
        return ReplyTemplate(id: id, title: title, text: text)
    }

    /// Who may act in `withDesk`: the desk's confirmed members, or its confirmed supervisors (refused with `message`).
    enum DeskRule: Sendable {
        case members
        case supervisors(String)
    }

    /// Runs `body` for desk `name` when `rule` allows `user`; otherwise records the denial of `action`.
    func withDesk<T: Sendable>(
        _ name: String, _ user: UnlockedUser, requestID: String, action: String, record: Bool, rule: DeskRule,
        _ body: @escaping @Sendable (Database, DeskState) throws -> T
    ) async throws -> T {
        let caller = user.caller(requestID: requestID)
        let outcome: Result<T, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else {
                return try self.refuse(db, caller, action, "desk:\(name)", .notFound("no desk \(name)"))
            }
            let decision =
                switch rule {
                case .members: try self.mayReadDeskRecords(db, deskID: desk.id, user)
                case .supervisors(let message): try self.maySupervise(db, desk: desk, user, else: message)
                }
            if case .denied(let e) = decision {
                return try self.refuse(db, caller, action, "desk:\(name)", e)
            }
            let result = try body(db, desk)
            if record { try self.record(db, caller, action, "desk:\(name)") }
            return .success(result)
        }
        return try outcome.get()
    }

    /// The desk's templates, oldest first (confirmed counselors and supervisors).
    public func templates(desk name: String, as user: UnlockedUser, requestID: String) async throws -> [ReplyTemplate] {
        try await withDesk(
            name, user, requestID: requestID, action: "template.read", record: false,
            rule: .members
        ) { db, desk in
            try Row.fetchAll(
                db, sql: "SELECT id, box FROM desk_templates WHERE desk_id = ? ORDER BY created_at, id",
                arguments: [Data(desk.id.bytes)]
            ).map { r in
                guard let id = ID(bytes: Array(r["id"] as Data)) else {
                    throw VaultError.integrity("a template id is malformed")
                }
                return try self.openTemplate(Array(r["box"] as Data), id: id, deskID: desk.id)
            }
        }
    }

    /// Creates (`id` nil), replaces or deletes (`delete`) a template (confirmed supervisors); recorded as
    /// `template.write`.
    /// - Returns: the template written (nil for a delete).
    /// - Throws: `.invalidRequest`; `.notFound` for an unknown desk or template; `.conflict` past 200 templates;
    ///   `.forbidden` (recorded).
    public func writeTemplate(
        desk name: String, id: ID?, title: String?, text: String?, delete: Bool = false, as user: UnlockedUser,
        requestID: String
    ) async throws -> ReplyTemplate? {
        if !delete { try ReplyTemplate.validate(title: title ?? "", text: text ?? "") }
        let now = now()
        return try await withDesk(
            name, user, requestID: requestID, action: "template.write", record: true,
            rule: .supervisors("only a confirmed supervisor of \(name) edits templates")
        ) { db, desk in
            let deskData = Data(desk.id.bytes)
            if let id {
                let exists =
                    try Bool.fetchOne(
                        db, sql: "SELECT 1 FROM desk_templates WHERE id = ? AND desk_id = ?",
                        arguments: [Data(id.bytes), deskData]) ?? false
                guard exists else { throw VaultError.notFound("no template \(id) on desk \(name)") }
                if delete {
                    try db.execute(sql: "DELETE FROM desk_templates WHERE id = ?", arguments: [Data(id.bytes)])
                    return nil
                }
                let t = ReplyTemplate(id: id, title: title!, text: text!)
                try db.execute(
                    sql: "UPDATE desk_templates SET box = ?, updated_at = ? WHERE id = ?",
                    arguments: [Data(try self.sealTemplate(t, deskID: desk.id)), now, Data(id.bytes)])
                return t
            }
            let count =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM desk_templates WHERE desk_id = ?", arguments: [deskData]) ?? 0
            guard count < ReplyTemplate.maxPerDesk else {
                throw VaultError.conflict("a desk keeps at most \(ReplyTemplate.maxPerDesk) templates")
            }
            let t = ReplyTemplate(id: ID.v7(milliseconds: now), title: title!, text: text!)
            try db.execute(
                sql: "INSERT INTO desk_templates (id, desk_id, box, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [Data(t.id.bytes), deskData, Data(try self.sealTemplate(t, deskID: desk.id)), now, now])
            return t
        }
    }
}
