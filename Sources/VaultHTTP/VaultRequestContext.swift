import Hummingbird
import NIOCore
import VaultCore

/// The request context: Hummingbird's core storage plus the request id every response carries.
public struct VaultRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    private let remoteAddress: SocketAddress?

    /// The client's IP address (for unlock throttling); "unknown" when the transport has none. Formatted only when
    /// asked for (one route needs it).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.requestID = ID.v4().description
        self.remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { 256 * 1024 }
}
