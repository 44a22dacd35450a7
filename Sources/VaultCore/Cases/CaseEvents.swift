import Foundation
import GRDB
import Synchronization

/// A change to a case, as live views learn of it: metadata only (ids, states, counts), never content. Published
/// after the change has committed.
public struct CaseEvent: Sendable, Equatable {
    /// Increasing within this process (the event stream's ids; a restart starts again, and clients refetch).
    public let seq: Int64
    /// `message` (a message was stored or its delivery changed), `case` (assignment, state, risk).
    public let kind: String
    public let caseID: ID
    public let desk: String
    public let assignee: String?
    public let status: String
    public let risk: String
    public let messageCount: Int
}

/// The in-process hub live views subscribe to. Subscribers get every event and filter by what their user may
/// list; a slow subscriber drops the oldest events (it refetches anyway).
public final class CaseEventHub: Sendable {
    private struct State {
        var next: Int64 = 0
        var subscribers: [UUID: AsyncStream<CaseEvent>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of the events published from now on; it ends when the subscriber's task is cancelled.
    public func subscribe() -> AsyncStream<CaseEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: CaseEvent.self, bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public var hasSubscribers: Bool { state.withLock { !$0.subscribers.isEmpty } }

    func publish(
        kind: String, caseID: ID, desk: String, assignee: String?, status: String, risk: String, messageCount: Int
    ) {
        state.withLock { s in
            s.next += 1
            let event = CaseEvent(
                seq: s.next, kind: kind, caseID: caseID, desk: desk, assignee: assignee, status: status, risk: risk,
                messageCount: messageCount)
            for c in s.subscribers.values { c.yield(event) }
        }
    }
}

extension Vault {
    /// Tells live views that cases changed (after the change committed): reads each case's metadata and publishes
    /// it. Does nothing without subscribers; never fails the caller (the change is already durable).
    func notifyCasesChanged(_ caseIDs: [ID], kind: String) {
        guard caseEvents.hasSubscribers, !caseIDs.isEmpty else { return }
        Task {
            typealias Meta = (id: ID, desk: String, assignee: String?, status: String, risk: String, count: Int)
            let rows = try? await database.read { db -> [Meta] in
                try caseIDs.compactMap { id -> Meta? in
                    guard
                        let row = try Row.fetchOne(
                            db,
                            sql: """
                                SELECT d.name AS desk, u.username AS assignee, c.status, c.risk, c.message_count
                                FROM cases c JOIN desks d ON d.id = c.desk_id
                                LEFT JOIN users u ON u.id = c.assignee_id WHERE c.id = ?
                                """, arguments: [Data(id.bytes)])
                    else { return nil }
                    return (id, row["desk"], row["assignee"], row["status"], row["risk"], row["message_count"] ?? 0)
                }
            }
            for m in rows ?? [] {
                caseEvents.publish(
                    kind: kind, caseID: m.id, desk: m.desk, assignee: m.assignee, status: m.status, risk: m.risk,
                    messageCount: m.count)
            }
        }
    }
}
