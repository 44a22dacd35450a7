import Foundation
import GRDB

/// One desk's queue as `/metrics` shows it (desk names as labels; never a case id).
public struct DeskQueueState: Sendable, Equatable {
    public let desk: String
    /// Open cases with a message waiting for a staff reply.
    public let waiting: Int
    /// Seconds the oldest of them has waited (0 when none).
    public let longestWaitSeconds: Double
}

extension Vault {
    /// Every desk's waiting cases and longest wait, from `waiting_since` (CaseListing.swift) of its open cases.
    public func queueStates() async throws -> [DeskQueueState] {
        let now = now()
        return try await database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.name AS desk, count(w.since) AS waiting, min(w.since) AS oldest
                    FROM desks d LEFT JOIN (
                        SELECT c.desk_id, \(Self.waitingSinceSQL) AS since FROM cases c WHERE c.status = 'open'
                    ) w ON w.desk_id = d.id
                    GROUP BY d.id ORDER BY d.name
                    """, arguments: [Self.automaticAuthor])
            return rows.map { r in
                let oldest: Int64? = r["oldest"]
                return DeskQueueState(
                    desk: r["desk"], waiting: r["waiting"],
                    longestWaitSeconds: oldest.map { Double(max(0, now - $0)) / 1000 } ?? 0)
            }
        }
    }

    /// The desk of a case and since when its person has waited (nil when nothing waits), for the response-time
    /// histogram: read before a staff reply, observed once the reply is stored.
    public func waitingSince(caseID: ID) async throws -> (desk: String, since: Int64?)? {
        try await database.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT d.name AS desk, \(Self.waitingSinceSQL) AS since
                    FROM cases c JOIN desks d ON d.id = c.desk_id WHERE c.id = ?
                    """, arguments: [Self.automaticAuthor, Data(caseID.bytes)]
            ).map { row -> (desk: String, since: Int64?) in (row["desk"] as String, row["since"] as Int64?) }
        }
    }
}

extension Vault {
    /// The vault clock's time, Unix ms (metrics that measure waits).
    public var nowMilliseconds: Int64 { now() }
}
