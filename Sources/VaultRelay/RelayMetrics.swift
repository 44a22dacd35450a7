import Prometheus

/// The relay's Prometheus metrics (API.md "Relay service"): counts and one lag gauge, no labels with ids or text.
public struct RelayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let webhooksForwarded: Counter
    let vaultErrors: Counter
    let repliesSent: Counter
    let repliesFailed: Counter
    let repliesRetried: Counter
    let contentFetched: Counter
    let contentGone: Counter
    let contentFailed: Counter
    let leaseLag: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        webhooksForwarded = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "webhooks_forwarded", unitName: "total",
                helpText: "LINE webhooks the vault acknowledged"))
        vaultErrors = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "vault_errors", unitName: "total",
                helpText: "Vault calls that failed: unreachable, timed out or 5xx"))
        repliesSent = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "replies_sent", unitName: "total",
                helpText: "Replies LINE accepted (including a 409 for a seen retry key)"))
        repliesFailed = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "replies_failed", unitName: "total",
                helpText: "Replies LINE refused for good (4xx other than 409 and 429)"))
        repliesRetried = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "replies_retried", unitName: "total",
                helpText: "Push attempts repeated after a 429, 5xx or timeout"))
        contentFetched = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "content_fetched", unitName: "total",
                helpText: "Media fetched from LINE and stored in the vault"))
        contentGone = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "content_gone", unitName: "total",
                helpText: "Media LINE no longer had (404 or 410), marked gone in the vault"))
        contentFailed = registry.makeCounter(
            descriptor: .init(
                namespace: "relay", metricName: "content_failed", unitName: "total",
                helpText: "Media fetches given up after their retries"))
        leaseLag = registry.makeGauge(
            descriptor: .init(
                namespace: "relay", metricName: "outbox_lease_lag", unitName: "seconds",
                helpText: "Age of the oldest reply in the last outbox lease"))
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
