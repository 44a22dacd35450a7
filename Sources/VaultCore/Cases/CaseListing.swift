import Foundation
import GRDB
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
    /// - Throws: `.forbidden` (recorded as a denied `case.list`) for other roles.
    public func listCases(_ q: CaseQuery, as user: UnlockedUser, requestID: String = ID.v4().description)
        async throws -> [CaseSummary]
    {
        try await enforce(mayListCases(user), user.caller(requestID: requestID), "case.list", "cases")
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
}
