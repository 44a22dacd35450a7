import AsyncHTTPClient
import Logging
import ServiceLifecycle

/// Asks the vault, at start and then every `interval`, for each channel's media still without bytes
/// (`GET /v1/line/{desk}/content-pending`) and queues them: a restart, a crash or a fetch that gave up while LINE was
/// slow loses nothing LINE still has (what it no longer has is marked gone by the fetch).
struct PendingContentSweep: Service {
    let channels: [RelayConfig.Channel]
    let content: ContentFetcher
    let upstream: Upstream
    let logger: Logger
    var interval: Duration = .seconds(600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for channel in channels { await sweep(channel) }
                try? await Task.sleep(for: interval)
            }
        }
    }

    func sweep(_ channel: RelayConfig.Channel) async {
        let request = upstream.vaultRequest(
            "/v1/line/\(Upstream.component(channel.desk))/content-pending", method: .GET)
        do {
            let (status, _, body) = try await upstream.send(request, timeout: .seconds(30))
            guard status.code == 200 else {
                logger.warning(
                    "vault refused the pending-content list",
                    metadata: ["desk": "\(channel.desk)", "status": "\(status.code)"])
                return
            }
            let pending = WebhookForwarder.contentPending(body)
            if !pending.isEmpty {
                logger.info(
                    "queued media still without bytes",
                    metadata: ["desk": "\(channel.desk)", "count": "\(pending.count)"])
                content.enqueue(desk: channel, pending)
            }
        } catch {
            logger.warning("vault unreachable for the pending-content list", metadata: ["desk": "\(channel.desk)"])
        }
    }
}
