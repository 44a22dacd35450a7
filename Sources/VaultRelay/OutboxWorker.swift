import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import VaultCrypto

/// Replies for one desk: leases the vault's outbox every second, opens each box with the desk's relay key, pushes
/// it to LINE with `X-Line-Retry-Key` and acks the result. 429, 5xx and timeouts are retried with the same retry key
/// while the lease holds; a 409 (LINE saw the retry key already) counts as delivered; other 4xx are acked `failed`
/// with `line:<status>`. An item whose lease runs out unacked comes back at the next lease, with the same key.
struct OutboxWorker: Service {
    let channel: RelayConfig.Channel
    let upstream: Upstream
    let metrics: RelayMetrics
    let logger: Logger
    static let leaseSeconds = 60
    static let pollInterval = Duration.seconds(1)
    /// Stop retrying a push this long before the lease ends, so the ack still lands inside it.
    static let leaseMargin = Duration.seconds(8)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let worked = await poll()
                if !worked { try? await Task.sleep(for: Self.pollInterval) }
            }
        }
    }

    /// One lease: true when it brought items (poll again at once).
    func poll() async -> Bool {
        let leasedAt = ContinuousClock.now
        let request = upstream.vaultRequest(
            "/v1/relay/outbox?desk=\(Upstream.component(channel.desk))&lease=\(Self.leaseSeconds)", method: .GET)
        let items: [Item]
        do {
            let (status, _, body) = try await upstream.send(request, timeout: .seconds(10), limit: 16 << 20)
            guard status == .ok else {
                if status.code >= 500 { metrics.vaultErrors.increment() }
                logger.warning(
                    "outbox lease refused", metadata: ["desk": "\(channel.desk)", "status": "\(status.code)"])
                return false
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            items = try decoder.decode(Lease.self, from: Data(buffer: body)).items
        } catch {
            metrics.vaultErrors.increment()
            logger.warning("vault unreachable for the outbox", metadata: ["desk": "\(channel.desk)"])
            return false
        }
        guard !items.isEmpty else {
            metrics.leaseLag.set(0.0)  // nothing waiting: no lag (the gauge would otherwise keep the last one)
            return false
        }
        let now = Date()
        let oldest = items.compactMap { Self.parse($0.createdAt) }.min()
        if let oldest { metrics.leaseLag.set(max(0, now.timeIntervalSince(oldest))) }
        let deadline = leasedAt + .seconds(Self.leaseSeconds) - Self.leaseMargin
        await withTaskGroup(of: Void.self) { group in
            for item in items {
                group.addTask { await deliver(item, deadline: deadline) }
            }
        }
        return true
    }

    struct Lease: Decodable {
        let items: [Item]
    }

    struct Item: Decodable, Sendable {
        let id: String
        let desk: String?
        let createdAt: String
        let box: String
    }

    /// The opened box: `{"to", "text", "retry_key"}`.
    struct Reply: Decodable {
        let to: String
        let text: String
        let retryKey: String
    }

    struct Push: Encodable {
        struct Message: Encodable {
            let type = "text"
            let text: String
        }
        let to: String
        let messages: [Message]
    }

    func deliver(_ item: Item, deadline: ContinuousClock.Instant) async {
        let meta: Logger.Metadata = ["desk": "\(channel.desk)", "outbox_id": "\(item.id)"]
        guard item.desk == nil || item.desk == channel.desk else {
            logger.error("outbox item of another desk; not sent", metadata: meta)
            return
        }
        // The box's JSON lives in protected memory until the push body is built from it.
        let pushBody: ByteBuffer
        let retryKey: String
        do {
            guard let sealed = Data(base64Encoded: item.box) else { throw RelayConfigError("box is not base64") }
            let opened = try SealedBox.open(Array(sealed), with: channel.relayKey)
            let reply = try opened.withUnsafeBytes { raw in
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                return try decoder.decode(Reply.self, from: Data(raw))
            }
            guard UUID(uuidString: reply.retryKey) != nil, !reply.to.isEmpty, !reply.text.isEmpty else {
                throw RelayConfigError("box content is malformed")
            }
            retryKey = reply.retryKey.lowercased()
            pushBody = ByteBuffer(
                bytes: try JSONEncoder().encode(Push(to: reply.to, messages: [.init(text: reply.text)])))
        } catch {
            // A box this relay cannot open (another key, a rotated key): a retry cannot change that.
            logger.error("outbox box does not open with this desk's relay key", metadata: meta)
            metrics.repliesFailed.increment()
            await ack(item, status: "failed", detail: "relay:box", meta: meta)
            return
        }
        var backoff = Backoff()
        while true {
            var push = HTTPClientRequest(url: upstream.config.lineAPIBase + "/v2/bot/message/push")
            push.method = .POST
            push.headers.add(name: "Authorization", value: Upstream.bearer(channel.accessToken))
            push.headers.add(name: "Content-Type", value: "application/json")
            push.headers.add(name: "X-Line-Retry-Key", value: retryKey)
            push.body = .bytes(pushBody)
            var code: UInt = 0
            do {
                code = try await upstream.send(push, timeout: .seconds(5), limit: 1 << 16).0.code
            } catch {
                code = 0
            }
            switch code {
            case 200...299, 409:
                metrics.repliesSent.increment()
                logger.info("reply delivered", metadata: meta.merging(["status": "\(code)"]) { $1 })
                await ack(item, status: "delivered", detail: nil, meta: meta)
                return
            case 0, 429, 500...:
                let wait = backoff.next()
                guard ContinuousClock.now + wait < deadline else {
                    logger.warning(
                        "reply not accepted within the lease; it comes back with the same retry key",
                        metadata: meta.merging(["status": "\(code)"]) { $1 })
                    return
                }
                metrics.repliesRetried.increment()
                logger.notice("push retried", metadata: meta.merging(["status": "\(code)"]) { $1 })
                try? await Task.sleep(for: wait)
                if Task.isCancelled { return }
            default:
                metrics.repliesFailed.increment()
                logger.warning("LINE refused a reply", metadata: meta.merging(["status": "\(code)"]) { $1 })
                await ack(item, status: "failed", detail: "line:\(code)", meta: meta)
                return
            }
        }
    }

    /// Acks an item, retrying a few times; an ack that never lands leaves the item leased to this token, so it is
    /// offered again and its repeated push is answered 409 by LINE (same retry key).
    func ack(_ item: Item, status: String, detail: String?, meta: Logger.Metadata) async {
        var backoff = Backoff(cap: .seconds(4))
        for _ in 0..<5 {
            var request = upstream.vaultRequest("/v1/relay/outbox/\(Upstream.component(item.id))/ack", method: .POST)
            request.headers.add(name: "Content-Type", value: "application/json")
            var object = ["status": status]
            if let detail { object["detail"] = detail }
            request.body = .bytes(ByteBuffer(bytes: (try? JSONEncoder().encode(object)) ?? Data()))
            do {
                let (code, _, _) = try await upstream.send(request, timeout: .seconds(10))
                if code == .noContent { return }
                if code.code < 500 {
                    logger.error("vault refused an ack", metadata: meta.merging(["status": "\(code.code)"]) { $1 })
                    return
                }
                metrics.vaultErrors.increment()
            } catch {
                metrics.vaultErrors.increment()
            }
            try? await Task.sleep(for: backoff.next())
        }
        logger.error("ack not delivered to the vault; the item comes back", metadata: meta)
    }

    static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
