import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Media of `content_pending` messages: fetched from LINE's content API and streamed into the vault's
/// `PUT /v1/messages/{id}/content` with LINE's Content-Type; retried with backoff; content LINE no longer has
/// (404, 410) is marked gone with `DELETE /v1/messages/{id}/content`.
struct ContentFetcher: Sendable {
    let upstream: Upstream
    let metrics: RelayMetrics
    let logger: Logger
    let jobs: AsyncStream<Job>.Continuation
    /// Message ids queued or being fetched: a webhook answer and the restart sweep never queue one twice.
    let queued: Queued
    static let attempts = 8

    final class Queued: Sendable {
        private let ids = Mutex<Set<String>>([])
        /// False when the id is queued already.
        func claim(_ id: String) -> Bool { ids.withLock { $0.insert(id).inserted } }
        func release(_ id: String) { _ = ids.withLock { $0.remove(id) } }
    }

    struct Job: Sendable {
        let channel: RelayConfig.Channel
        let pending: WebhookForwarder.Pending
    }

    func enqueue(desk channel: RelayConfig.Channel, _ pending: [WebhookForwarder.Pending]) {
        for p in pending where queued.claim(p.messageId) { jobs.yield(Job(channel: channel, pending: p)) }
    }

    /// Works the queue, a few fetches at a time, until the stream ends.
    static func run(
        _ stream: AsyncStream<Job>, queued: Queued, upstream: Upstream, metrics: RelayMetrics, logger: Logger
    ) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in stream {
                if running >= 4 {
                    await group.next()
                    running -= 1
                }
                group.addTask {
                    await fetch(job, upstream: upstream, metrics: metrics, logger: logger)
                    queued.release(job.pending.messageId)
                }
                running += 1
            }
        }
    }

    enum Outcome { case done, retry, giveUp }

    static func fetch(_ job: Job, upstream: Upstream, metrics: RelayMetrics, logger: Logger) async {
        var backoff = Backoff(cap: .seconds(30))
        let meta: Logger.Metadata = ["desk": "\(job.channel.desk)", "message_id": "\(job.pending.messageId)"]
        for attempt in 1...attempts {
            let outcome = await once(job, upstream: upstream, metrics: metrics, logger: logger, meta: meta)
            switch outcome {
            case .done, .giveUp: return
            case .retry:
                if attempt == attempts { break }
                try? await Task.sleep(for: backoff.next())
                if Task.isCancelled { return }
            }
        }
        metrics.contentFailed.increment()
        logger.error("content not stored after \(attempts) attempts; LINE keeps it for a while", metadata: meta)
    }

    static func once(_ job: Job, upstream: Upstream, metrics: RelayMetrics, logger: Logger, meta: Logger.Metadata)
        async -> Outcome
    {
        var get = HTTPClientRequest(
            url: upstream.config.lineDataAPIBase
                + "/v2/bot/message/\(Upstream.component(job.pending.lineMessageId))/content")
        get.method = .GET
        get.headers.add(name: "Authorization", value: Upstream.bearer(job.channel.accessToken))
        let response: HTTPClientResponse
        do {
            response = try await upstream.http.execute(get, timeout: .seconds(30))
        } catch {
            logger.warning("LINE content API unreachable", metadata: meta)
            return .retry
        }
        switch response.status.code {
        case 200:
            break
        case 404, 410:
            _ = try? await response.body.collect(upTo: 1 << 16)
            return await markGone(job, upstream: upstream, metrics: metrics, logger: logger, meta: meta)
        case 429, 202, 500...:
            _ = try? await response.body.collect(upTo: 1 << 16)
            logger.notice(
                "LINE content not ready", metadata: meta.merging(["status": "\(response.status.code)"]) { $1 })
            return .retry
        default:
            _ = try? await response.body.collect(upTo: 1 << 16)
            metrics.contentFailed.increment()
            logger.error(
                "LINE refused the content fetch", metadata: meta.merging(["status": "\(response.status.code)"]) { $1 })
            return .giveUp
        }
        var put = upstream.vaultRequest(
            "/v1/messages/\(Upstream.component(job.pending.messageId))/content", method: .PUT)
        put.headers.add(
            name: "Content-Type", value: response.headers.first(name: "Content-Type") ?? "application/octet-stream")
        let length = response.headers.first(name: "Content-Length").flatMap { Int($0) }
        put.body = .stream(response.body, length: length.map { .known(Int64($0)) } ?? .unknown)
        do {
            let (status, _, _) = try await upstream.send(put, timeout: .seconds(120))
            switch status.code {
            case 200, 201:
                metrics.contentFetched.increment()
                logger.info("content stored", metadata: meta.merging(["bytes": "\(length ?? -1)"]) { $1 })
                return .done
            case 409:
                logger.info("content stored already or marked gone", metadata: meta)
                return .done
            case 500...:
                metrics.vaultErrors.increment()
                return .retry
            default:
                metrics.contentFailed.increment()
                logger.error("vault refused the content", metadata: meta.merging(["status": "\(status.code)"]) { $1 })
                return .giveUp
            }
        } catch {
            metrics.vaultErrors.increment()
            logger.warning("vault unreachable for content", metadata: meta)
            return .retry
        }
    }

    static func markGone(_ job: Job, upstream: Upstream, metrics: RelayMetrics, logger: Logger, meta: Logger.Metadata)
        async -> Outcome
    {
        let delete = upstream.vaultRequest(
            "/v1/messages/\(Upstream.component(job.pending.messageId))/content", method: .DELETE)
        do {
            let (status, _, _) = try await upstream.send(delete, timeout: .seconds(10))
            switch status.code {
            case 204, 409:
                metrics.contentGone.increment()
                logger.notice("LINE no longer has the content; marked gone", metadata: meta)
                return .done
            case 500...:
                metrics.vaultErrors.increment()
                return .retry
            default:
                logger.error(
                    "vault refused to mark content gone", metadata: meta.merging(["status": "\(status.code)"]) { $1 })
                return .giveUp
            }
        } catch {
            metrics.vaultErrors.increment()
            return .retry
        }
    }
}
