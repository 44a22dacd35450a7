import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultCrypto
import VaultHTTP
import VaultTestSupport

/// Issue 17: queue length, longest wait and the first-response histogram per desk on /metrics (no case ids).
@Suite struct QueueMetricsTests {
    @Test("/metrics shows each desk's waiting cases and longest wait, and observes a reply's response time")
    func queueMetrics() async throws {
        let registry = MetricsTests.registry
        let f = try await Fixture.make()
        defer { f.remove() }
        let relayKey = try BoxKeyPair.generate()
        let sup = try await f.unlock("sup")
        try await f.vault.setRelayKey(desk: "ijime", publicKey: relayKey.publicKey, supervisor: sup, requestID: "k")
        let router = buildRouter(vault: f.vault, configuration: ServeConfiguration(), registry: registry)
        try await Application(router: router).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message("待っています"))
            let caseID = try #require(posted.json["case_id"] as? String)
            let before = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(before.contains("consultvault_queue_waiting_cases{desk=\"ijime\"} 1"))
            #expect(before.contains("consultvault_queue_waiting_cases{desk=\"gyakutai\"} 0"))
            let wait = before.split(separator: "\n").first {
                $0.hasPrefix("consultvault_queue_longest_wait_seconds{desk=\"ijime\"} ")
            }
            // The message was sent on 2026-11-22; it has waited since.
            #expect((wait?.split(separator: " ").last).flatMap { Double($0) } ?? 0 > 60)
            #expect(!before.contains(caseID))
            let token = try await unlockToken(client, f, "sup")
            let reply = try await client.call(.post, "/v1/cases/\(caseID)/replies", token: token, json: ["text": "はい"])
            #expect(reply.status == .created)
            let after = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(after.contains("consultvault_queue_waiting_cases{desk=\"ijime\"} 0"))
            let observed = after.split(separator: "\n").first {
                $0.hasPrefix("consultvault_first_response_seconds_count{desk=\"ijime\"} ")
            }
            #expect((observed?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1)
            #expect(after.contains("consultvault_first_response_seconds_bucket{desk=\"ijime\",le=\"21600.0\"}"))
            #expect(!after.contains(caseID))
        }
    }
}
