import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the relay: its listener (each channel's webhook path, `/healthz`, `/metrics`), one outbox worker per
/// channel, the content queue and the HTTP client they share (shut down last).
/// - Parameters:
///   - config: the loaded config.
///   - metrics: where counts go (`/metrics` renders it).
///   - logger: JSON lines to stderr in `consultvault relay`; never message text, LINE user ids or tokens.
public func buildRelayApplication(config: RelayConfig, metrics: RelayMetrics = RelayMetrics(), logger: Logger)
    -> some ApplicationProtocol
{
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    clientConfiguration.redirectConfiguration = .disallow
    clientConfiguration.timeout.connect = .seconds(2)
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    let upstream = Upstream(http: http, config: config)
    let (jobs, continuation) = AsyncStream<ContentFetcher.Job>.makeStream()
    let content = ContentFetcher(
        upstream: upstream, metrics: metrics, logger: logger, jobs: continuation, queued: ContentFetcher.Queued())

    let router = Router()
    router.get("/healthz") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
    }
    router.get("/metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
    }
    var services: [any Service] = []
    for channel in config.channels {
        let forwarder = WebhookForwarder(
            channel: channel, upstream: upstream, metrics: metrics, content: content, logger: logger)
        router.post(RouterPath(channel.webhookPath)) { request, context in
            try await forwarder.handle(request, context: context)
        }
        services.append(OutboxWorker(channel: channel, upstream: upstream, metrics: metrics, logger: logger))
    }
    services.append(
        ContentService(
            stream: jobs, continuation: continuation, queued: content.queued, upstream: upstream, metrics: metrics,
            logger: logger))
    services.append(
        PendingContentSweep(channels: config.channels, content: content, upstream: upstream, logger: logger))
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: nil),
        logger: logger)
    // Services stop in reverse order: the HTTP client, added first, shuts down after everything that uses it.
    app.addServices(HTTPClientService(client: http))
    app.addServices(services)
    return app
}

/// Runs the content queue until shutdown.
struct ContentService: Service {
    let stream: AsyncStream<ContentFetcher.Job>
    let continuation: AsyncStream<ContentFetcher.Job>.Continuation
    let queued: ContentFetcher.Queued
    let upstream: Upstream
    let metrics: RelayMetrics
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            await ContentFetcher.run(stream, queued: queued, upstream: upstream, metrics: metrics, logger: logger)
        } onGracefulShutdown: {
            continuation.finish()
        }
    }
}

/// Shuts the shared HTTP client down when the service group stops.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
