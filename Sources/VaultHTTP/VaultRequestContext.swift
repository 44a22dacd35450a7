import Hummingbird
import NIOCore
import VaultCore

/// The request context: Hummingbird's core storage plus the request id every response carries.
public struct VaultRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    private let remoteAddress: SocketAddress?

    /// The peer's IP address; nil when the transport has none (a Unix socket, the router test client). Formatted
    /// only when asked for. Throttling uses `ClientAddressResolver`, which may look behind a trusted proxy.
    public var peerAddress: String? { remoteAddress?.ipAddress }

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.requestID = ID.v4().description
        self.remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { 256 * 1024 }
}
