import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import VaultCore
import VaultHTTP

/// Which case events a signed-in user's stream carries: only cases they may list (a counselor: their desks'
/// unassigned cases and their own; a supervisor: their desks' cases); auditors and admins none. A case that leaves
/// a counselor's view (taken by someone else) is announced once as gone, by the id they already had.
struct EventFilter: Sendable {
    let username: String
    let role: Role
    let desks: Set<String>

    func mayList(_ e: CaseEvent) -> Bool { mayList(desk: e.desk, assignee: e.assignee) }

    func mayList(desk: String, assignee: String?) -> Bool {
        guard desks.contains(desk) else { return false }
        switch role {
        case .supervisor: return true
        case .counselor: return assignee == nil || assignee == username
        case .auditor, .admin: return false
        }
    }

    /// Whose the case is, as the stream says it: another counselor's name is not given.
    func assigned(_ assignee: String?) -> String { assignee == nil ? "none" : assignee == username ? "me" : "other" }

    /// The SSE frame for an event the user may list: metadata only, never text; another counselor's name is not
    /// given (`assigned` is me, other or none).
    func frame(_ e: CaseEvent) -> String {
        let assigned = assigned(e.assignee)
        let data =
            "{\"case\":\"\(e.caseID)\",\"kind\":\"\(e.kind)\",\"desk\":\(Self.json(e.desk)),\"status\":\"\(e.status)\","
            + "\"risk\":\"\(e.risk)\",\"assigned\":\"\(assigned)\",\"messages\":\(e.messageCount)}"
        return "id: \(e.seq)\nevent: case\ndata: \(data)\n\n"
    }

    func goneFrame(_ e: CaseEvent) -> String {
        "id: \(e.seq)\nevent: gone\ndata: {\"case\":\"\(e.caseID)\"}\n\n"
    }

    static func json(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// `GET /console/events`: Server-Sent Events about the cases the user may list. A page fetches anything readable
/// through its normal authorized route when told. The stream ends when the session does (checked without counting
/// as use, so an open tab does not keep an idle session alive); after a restart the browser reconnects and the page
/// refetches (the `hello` event carries this process's boot id).
struct EventsController {
    let console: Console
    static let boot = ID.v4().description

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/console/events", use: events)
    }

    enum Item: Sendable {
        case event(CaseEvent)
        case tick
    }

    @Sendable func events(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let signed = try await console.auth.user(request)
        let user = signed.user
        let desks =
            user.role == .counselor || user.role == .supervisor ? try await console.vault.memberDeskNames(user) : []
        let filter = EventFilter(username: user.username, role: user.role, desks: Set(desks))
        var known = Set<ID>()
        if user.role == .counselor {
            var q = CaseQuery()
            q.status = "open"
            q.limit = 1000
            known = Set(try await console.vault.listCases(q, as: user, requestID: context.requestID).map(\.id))
        }
        let hub = console.vault.caseEvents
        let sessions = console.vault.sessions
        let token = signed.token
        let initialKnown = known
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
                let (items, feed) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(512))
                // Subscribed before `hello` is sent: nothing published after it is missed.
                let subscription = hub.subscribe()
                let forward = Task {
                    for await e in subscription { feed.yield(.event(e)) }
                }
                let ticker = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(10))
                        feed.yield(.tick)
                    }
                }
                defer {
                    forward.cancel()
                    ticker.cancel()
                    feed.finish()
                }
                var known = initialKnown
                try await writer.write(
                    ByteBuffer(string: "retry: 1000\nevent: hello\ndata: {\"boot\":\"\(Self.boot)\"}\n\n"))
                // At shutdown the stream ends (the browser reconnects to the next process and refetches).
                try await withGracefulShutdownHandler {
                    for await item in items {
                        guard sessions.isLive(token) else { break }
                        switch item {
                        case .tick: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        case .event(let e):
                            if filter.mayList(e) {
                                known.insert(e.caseID)
                                try await writer.write(ByteBuffer(string: filter.frame(e)))
                            } else if known.remove(e.caseID) != nil {
                                try await writer.write(ByteBuffer(string: filter.goneFrame(e)))
                            }
                        }
                    }
                } onGracefulShutdown: {
                    feed.finish()
                }
                try await writer.finish(nil)
            })
    }
}
