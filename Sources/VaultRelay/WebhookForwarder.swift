import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// `POST {webhook_path}`: LINE's webhook, forwarded byte for byte with `X-Line-Signature` to the vault's
/// `/v1/line/{desk}/webhook`. 200 only after the vault's 200; 503 when the vault is unreachable, slow or failing
/// (LINE redelivers); the vault's 4xx as it came. The body lives in memory only.
struct WebhookForwarder: Sendable {
    let channel: RelayConfig.Channel
    let upstream: Upstream
    let metrics: RelayMetrics
    let content: ContentFetcher
    let logger: Logger
    /// LINE waits 2 s; the vault gets what is left after reading the body, less a margin for the answer.
    static let deadline = Duration.milliseconds(1800)
    static let maxBodyBytes = 1 << 20

    func handle(_ request: Request, context: some RequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maxBodyBytes)
        } catch {
            return Self.error(.contentTooLarge, "payload_too_large", "a webhook body is at most 1 MiB")
        }
        var forward = upstream.vaultRequest(
            "/v1/line/\(Upstream.component(channel.desk))/webhook", method: .POST)
        forward.headers.add(name: "Content-Type", value: "application/json")
        if let signature = request.headers[HTTPField.Name("X-Line-Signature")!] {
            forward.headers.add(name: "X-Line-Signature", value: signature)
        }
        forward.body = .bytes(body)
        let remaining = Self.deadline - (ContinuousClock.now - started)
        let status: HTTPResponseStatus
        let answer: ByteBuffer
        do {
            guard remaining > .milliseconds(50) else { throw CancellationError() }
            (status, _, answer) = try await upstream.send(forward, timeout: remaining)
        } catch {
            metrics.vaultErrors.increment()
            logger.warning(
                "vault unreachable for a webhook; answering 503 so that LINE redelivers",
                metadata: ["desk": "\(channel.desk)", "error": "\(type(of: error))"])
            return Self.error(.serviceUnavailable, "vault_unavailable", "the vault did not answer; LINE redelivers")
        }
        switch status.code {
        case 200:
            metrics.webhooksForwarded.increment()
            let pending = Self.contentPending(answer)
            if !pending.isEmpty { content.enqueue(desk: channel, pending) }
            logger.info(
                "webhook forwarded",
                metadata: [
                    "desk": "\(channel.desk)", "bytes": "\(body.readableBytes)", "content_pending": "\(pending.count)",
                ])
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{}")))
        case 500...:
            metrics.vaultErrors.increment()
            logger.warning(
                "vault failed a webhook; answering 503",
                metadata: ["desk": "\(channel.desk)", "status": "\(status.code)"])
            return Self.error(.serviceUnavailable, "vault_unavailable", "the vault failed; LINE redelivers")
        default:
            logger.notice("vault refused a webhook", metadata: ["desk": "\(channel.desk)", "status": "\(status.code)"])
            return Response(
                status: .init(code: Int(status.code)), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: answer))
        }
    }

    struct Pending: Decodable, Sendable {
        let lineMessageId: String
        let messageId: String
    }

    static func contentPending(_ body: ByteBuffer) -> [Pending] {
        struct Answer: Decodable { let contentPending: [Pending]? }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(Answer.self, from: Data(buffer: body)))?.contentPending ?? []
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(
                byteBuffer: ByteBuffer(string: "{\"error\":{\"code\":\"\(code)\",\"message\":\"\(message)\"}}")))
    }
}
