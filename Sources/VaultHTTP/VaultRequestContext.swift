import Hummingbird
import VaultCore

/// The request context: Hummingbird's core storage plus the request id every response carries.
public struct VaultRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String
    /// The client's IP address (for unlock throttling); "unknown" when the transport has none.
    public var clientAddress: String

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.requestID = ID.v4().description
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    public var maxUploadSize: Int { 256 * 1024 }
}
