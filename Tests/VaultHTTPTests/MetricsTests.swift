import Foundation
import Hummingbird
import HummingbirdTesting
import Metrics
import Prometheus
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct MetricsTests {
    /// One process-wide registry behind swift-metrics, as `serve` bootstraps it.
    static let registry: PrometheusCollectorRegistry = {
        let r = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(VaultMetrics.factory(registry: r))
        return r
    }()

    @Test("/metrics counts ingests, reads, denials and stalled desks without content, names or ids")
    func metrics() async throws {
        let registry = Self.registry
        let f = try await Fixture.make()
        defer { f.remove() }
        let router = buildRouter(vault: f.vault, configuration: ServeConfiguration(), registry: registry)
        let secret = "METRIC-CANARY"
        try await Application(router: router).test(.router) { client in
            let posted = try await client.call(.post, "/v1/messages", token: f.relayToken, json: message(secret))
            let caseID = try #require(posted.json["case_id"] as? String)
            let cou1 = try await unlockToken(client, f, "cou1")
            _ = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: cou1)
            let cou2 = try await unlockToken(client, f, "cou2")
            _ = try await client.call(.get, "/v1/cases/\(caseID)/messages", token: cou2)
            _ = try await client.call(
                .post, "/v1/sessions", json: ["username": "cou1", "passphrase": "wrong passphrase"])
            let m = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(m.contains("consultvault_ingest_total"))
            #expect(m.contains("consultvault_transcript_reads_total"))
            #expect(m.contains("consultvault_denials_total"))
            #expect(m.contains("consultvault_unlock_failures_total"))
            #expect(m.contains("consultvault_audit_append_seconds"))
            // Every relay write goes through the group committer: the batch-size histogram counts its commits,
            // in writes-per-commit buckets.
            #expect(m.contains("consultvault_group_commit_batch_size_bucket{le=\"1.0\"}"))
            #expect(m.contains("consultvault_group_commit_batch_size_bucket{le=\"256.0\"}"))
            let batches = m.split(separator: "\n").first { $0.hasPrefix("consultvault_group_commit_batch_size_count ") }
            #expect((batches?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1)
            #expect(m.contains("consultvault_sessions_open 2"))
            #expect(m.contains("consultvault_desks_without_unlocked_supervisor 2"))
            // Desk names appear as labels of the per-desk queue metrics (issue 17); users and cases never do.
            for forbidden in [secret, "cou1", "cou2", caseID, "U0123456789abcdef"] {
                #expect(!m.contains(forbidden), "metrics leak \(forbidden)")
            }
        }
    }
}
