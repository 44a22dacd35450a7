import Foundation
import GRDB
import Synchronization
import Testing
import VaultCore
import VaultTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

private let serverBinary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".build/debug/consultvault")

/// The real `consultvault serve` as a child process.
private final class ServerProcess: @unchecked Sendable {
    // `process` is only started, signalled and waited on; Process itself is thread-safe for these.
    let process = Process()
    let port: Int

    init(data: URL) throws {
        port = Int.random(in: 20_000...60_000)
        process.executableURL = serverBinary
        process.arguments = ["serve", "--data", data.path, "--listen", "127.0.0.1:\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func waitHealthy() async throws {
        for _ in 0..<200 {
            if (try? await crashRequest("\(base)/healthz", method: "GET", token: nil, body: nil))?.0 == 200 {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw VaultError(.internalError, "the server did not become healthy")
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

private func crashRequest(_ url: String, method: String, token: String?, body: Data?) async throws -> (Int, Data) {
    var r = URLRequest(url: URL(string: url)!)
    r.httpMethod = method
    r.timeoutInterval = 10
    if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    if let body {
        r.httpBody = body
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    return try await withCheckedThrowingContinuation { c in
        URLSession.shared.dataTask(with: r) { data, response, error in
            if let error { return c.resume(throwing: error) }
            c.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
        }.resume()
    }
}

private func crashPost(_ server: ServerProcess, token: String, external: String) async throws -> (Int, [String: Any]) {
    let body = try JSONSerialization.data(
        withJSONObject: message("crash test \(external)", external: external, user: "Ucrash\(external.hashValue % 7)"))
    let (status, data) = try await crashRequest("\(server.base)/v1/messages", method: "POST", token: token, body: body)
    return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
}

private final class Acknowledged: Sendable {
    let acked = Mutex<[String: String]>([:])  // external id → message id
    let killed = Mutex(false)
}

/// Crash safety with the real server binary: SIGKILL during a burst of concurrent ingests, restart, and every
/// message that was answered 2xx is there exactly once (group commit answers only after the batch is durable).
@Suite struct CrashSafetyTests {

    @Test(
        "SIGKILL during a burst of concurrent ingests: after restart every 2xx message is there exactly once",
        .enabled(if: FileManager.default.isExecutableFile(atPath: serverBinary.path), "needs `swift build` first"))
    func killDuringBurst() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let server = try ServerProcess(data: f.directory)
        try await server.waitHealthy()
        let token = f.relayToken
        let state = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<12 {
                group.addTask {
                    var n = 0
                    while !state.killed.withLock({ $0 }) {
                        n += 1
                        let external = "crash-\(worker)-\(n)"
                        guard let (status, json) = try? await crashPost(server, token: token, external: external) else {
                            continue
                        }
                        if (200...299).contains(status), let mid = json["message_id"] as? String {
                            state.acked.withLock { $0[external] = mid }
                        }
                    }
                }
            }
            group.addTask {
                // Let the burst build up, then kill the server mid-flight.
                while state.acked.withLock({ $0.count }) < 150 { try await Task.sleep(for: .milliseconds(5)) }
                server.kill()
                state.killed.withLock { $0 = true }
            }
            try await group.waitForAll()
        }
        let answered = state.acked.withLock { $0 }
        #expect(answered.count >= 150)

        // Restart on the same data; redeliveries of acknowledged messages are duplicates with the same ids.
        let restarted = try ServerProcess(data: f.directory)
        defer { restarted.kill() }
        try await restarted.waitHealthy()
        for (external, mid) in answered.prefix(20) {
            let (status, json) = try await crashPost(restarted, token: token, external: external)
            #expect(status == 200)
            #expect(json["duplicate"] as? Bool == true)
            #expect(json["message_id"] as? String == mid)
        }
        let vault = try Vault.open(at: f.directory)
        let stored = try await vault.database.read { db in
            try Row.fetchAll(db, sql: "SELECT external_id, id FROM messages WHERE external_id LIKE 'crash-%'").map {
                ($0["external_id"] as String, ID(bytes: Array($0["id"] as Data))?.description ?? "")
            }
        }
        let byExternal = Dictionary(grouping: stored, by: \.0)
        for (external, mid) in answered {
            #expect(byExternal[external]?.count == 1, "acknowledged \(external) is missing or duplicated")
            #expect(byExternal[external]?.first?.1 == mid)
        }
        let broken = try await vault.database.read { db in try AuditLog.firstBrokenSeq(in: db) }
        #expect(broken == nil)
    }
}
