import Hummingbird
import Metrics
import Prometheus
import VaultCore

/// `GET /metrics`: Prometheus text. Counts and latencies only: no content, names or ids in any label.
/// Counters and histograms come through swift-metrics (bootstrapped onto `registry` by `serve`); the gauges that
/// describe the present (open sessions, desks with no unlocked supervisor) are computed at each scrape.
struct MetricsController {
    let vault: Vault
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/metrics", use: metrics)
    }

    @Sendable func metrics(_ request: Request, context: VaultRequestContext) async throws -> Response {
        registry.makeGauge(
            descriptor: .init(
                namespace: "consultvault", metricName: "sessions", unitName: "open", helpText: "Unlocked staff sessions"
            )
        ).set(Double(vault.sessions.sweep()))
        let stalled = try await vault.desksWithoutUnlockedSupervisor()
        registry.makeGauge(
            descriptor: .init(
                namespace: "consultvault", metricName: "desks_without_unlocked", unitName: "supervisor",
                helpText: "Desks none of whose supervisors is unlocked")
        ).set(Double(stalled.count))
        registry.makeGauge(
            descriptor: .init(
                namespace: "consultvault", metricName: "integrity_failures", unitName: "total",
                helpText: "Stored rows whose MAC or signature did not check since start (schema/FORMAT.md §18)")
        ).set(Double(vault.integrityFailureCount))
        for q in try await vault.queueStates() {
            registry.makeGauge(
                descriptor: .init(
                    namespace: "consultvault", metricName: "queue_waiting", unitName: "cases",
                    helpText: "Open cases with a message waiting for a staff reply, per desk"),
                labels: [("desk", q.desk)]
            ).set(Double(q.waiting))
            registry.makeGauge(
                descriptor: .init(
                    namespace: "consultvault", metricName: "queue_longest_wait", unitName: "seconds",
                    helpText: "How long the oldest waiting message of the desk has waited"),
                labels: [("desk", q.desk)]
            ).set(q.longestWaitSeconds)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}

/// Names of the counters and timers the HTTP layer records.
public enum VaultMetrics {
    /// The swift-metrics factory `serve` bootstraps: Prometheus onto `registry`, with bucket bounds for the
    /// group-commit batch-size histogram (writes per durable commit, 1…256) instead of the default seconds.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets[VaultDatabase.batchSizeMetric] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        factory.valueHistogramBuckets["consultvault_first_response_seconds"] = [
            10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600,
        ]
        return factory
    }

    static func ingest(_ duration: Duration, duplicate: Bool) {
        Counter(label: "consultvault_ingest_total", dimensions: [("duplicate", duplicate ? "true" : "false")])
            .increment()
        Timer(label: "consultvault_ingest_seconds").record(duration: duration)
    }

    /// A staff reply that ended a waiting spell: seconds since the oldest waiting inbound message, per desk.
    public static func firstResponse(desk: String, seconds: Double) {
        Recorder(label: "consultvault_first_response_seconds", dimensions: [("desk", desk)], aggregate: true)
            .record(seconds)
    }

    static func read() { Counter(label: "consultvault_transcript_reads_total").increment() }
    static func denial() { Counter(label: "consultvault_denials_total").increment() }
    static func unlockFailure() { Counter(label: "consultvault_unlock_failures_total").increment() }
}
