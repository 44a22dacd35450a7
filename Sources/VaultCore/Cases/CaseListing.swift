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
    /// The `sent_at` of the oldest inbound message after the last staff reply (automatic messages do not count), or
    /// nil when nothing waits.
    public var waitingSince: Int64? = nil
    /// Earlier cases of the same person (routing pseudonym) on the desk.
    public var repeatContacts: Int = 0
}

/// Filters for `GET /v1/cases`.
public struct CaseQuery: Sendable {
    public var desk: String?
    public var status: String?
    public var assignedToMe = false
    public var flagged: Bool?
    public var limit = 100
    public var after: ID?
    /// Triage order (risk, imminent first, then `waiting_since`, oldest first, none last) instead of newest activity.
    public var triage = false
    /// Only this case (the console's case page: one row under the listing's own rules, not the whole desk).
    public var caseID: ID?

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
                        AS assignee_unread,
                    \(Self.waitingSinceSQL) AS waiting_since, \(Self.repeatContactsSQL) AS repeat_contacts,
                    EXISTS (SELECT 1 FROM case_keyword_flags k WHERE k.case_id = c.id) AS keyword_flag
                FROM cases c JOIN desks d ON d.id = c.desk_id
                LEFT JOIN users u ON u.id = c.assignee_id
                WHERE c.desk_id IN (\(databaseQuestionMarks(count: desks.count)))
                """
            var args: [DatabaseValueConvertible?] =
                [Data(user.id.bytes), Self.automaticAuthor] + desks.map { Data($0.bytes) }
            if user.role == .counselor {
                sql += " AND (c.assignee_id IS NULL OR c.assignee_id = ?)"
                args.append(Data(user.id.bytes))
            }
            if let desk = q.desk {
                sql += " AND d.name = ?"
                args.append(desk)
            }
            if let caseID = q.caseID {
                sql += " AND c.id = ?"
                args.append(Data(caseID.bytes))
            }
            if let status = q.status {
                sql += " AND c.status = ?"
                args.append(status)
            }
            if q.assignedToMe {
                sql += " AND c.assignee_id = ?"
                args.append(Data(user.id.bytes))
            }
            if let after = q.after, !q.triage,
                let anchor = try Row.fetchOne(
                    db, sql: "SELECT last_message_at FROM cases WHERE id = ?", arguments: [Data(after.bytes)])
            {
                sql += " AND (c.last_message_at < ? OR (c.last_message_at = ? AND c.id < ?))"
                let t: Int64 = anchor["last_message_at"]
                args += [t, t, Data(after.bytes)]
            }
            if q.triage {
                // Every matching case is ordered (a queue is short); `after` then skips to the case after the anchor.
                sql += " ORDER BY \(Self.riskRankSQL) DESC, waiting_since IS NULL, waiting_since, c.id"
            } else {
                sql += " ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?"
                args.append(min(max(q.limit, 1), 1000) * (q.flagged == nil ? 1 : 4))
            }
            var rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            if q.triage, let after = q.after {
                let anchor = Data(after.bytes)
                if let i = rows.firstIndex(where: { ($0["id"] as Data) == anchor }) { rows.removeFirst(i + 1) }
            }
            var out: [CaseSummary] = []
            for row in rows {
                let c = try CaseRow(row: row)
                var flags: [String] = []
                if c.risk == "high" || c.risk == "imminent" { flags.append("risk_\(c.risk)") }
                // New inbound messages the assignee has not read, and no live session to read them.
                if let a = c.assigneeID, !live.contains(a), (row["assignee_unread"] as Int? ?? 0) > 0 {
                    flags.append("assignee_offline")
                }
                if (row["keyword_flag"] as Int? ?? 0) != 0 { flags.append("keyword") }
                if let f = q.flagged, f != !flags.isEmpty { continue }
                out.append(
                    CaseSummary(
                        id: c.id, desk: row["desk_name"], status: c.status, risk: c.risk,
                        assignee: row["assignee_name"],
                        flags: flags, openedAt: row["opened_at"], lastMessageAt: row["last_message_at"],
                        messageCount: c.messageCount, unread: row["unread"], waitingSince: row["waiting_since"],
                        repeatContacts: row["repeat_contacts"]))
            }
            return Array(out.prefix(min(max(q.limit, 1), 1000)))
        }
    }

    /// `waiting_since` of case `c`: the oldest inbound message after the case's last staff reply (its one argument is
    /// the automatic author, whose messages are not replies). Reads the case's messages by (case_id, seq).
    static let waitingSinceSQL = """
        (SELECT min(m.sent_at) FROM messages m WHERE m.case_id = c.id AND m.direction = 'inbound'
            AND m.seq > coalesce((SELECT max(o.seq) FROM messages o
                WHERE o.case_id = c.id AND o.direction = 'outbound' AND o.author <> ?), 0))
        """

    /// Earlier cases of the same routing pseudonym on the desk (the `cases_routing` index).
    static let repeatContactsSQL = """
        (SELECT count(*) FROM cases e WHERE e.desk_id = c.desk_id AND e.routing_id = c.routing_id
            AND (e.opened_at < c.opened_at OR (e.opened_at = c.opened_at AND e.id < c.id)))
        """

    /// Risk as a number, imminent highest.
    static let riskRankSQL = """
        (CASE c.risk WHEN 'imminent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)
        """

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
