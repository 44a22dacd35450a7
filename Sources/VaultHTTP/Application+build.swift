import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VaultCore

/// How `serve` listens and what it accepts; flags win over the config file.
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8750
    public var unixPath: String?
    public var maxBodyBytes = 262_144
    public var maxContentBytes = 52_428_800

    public init() {}

    /// Parses `HOST:PORT`.
    public mutating func setListen(_ s: String) throws {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw VaultError(.invalidRequest, "--listen must be HOST:PORT, e.g. 127.0.0.1:8750")
        }
        host = String(s[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }
}

/// Builds the router: every route of the contract, behind the error/request-id middleware.
public func buildRouter(vault: Vault, configuration: ServeConfiguration) -> Router<VaultRequestContext> {
    let router = Router(context: VaultRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    let auth = Auth(vault: vault)
    ServiceController(vault: vault).addRoutes(to: router)
    RelayController(
        vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes,
        maxContentBytes: configuration.maxContentBytes
    ).addRoutes(to: router)
    SessionController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    CaseController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    return router
}

/// Builds the application: router, session janitor (sweeps expired sessions, wipes all at shutdown).
public func buildApplication(vault: Vault, configuration: ServeConfiguration, logger: Logger)
    -> some ApplicationProtocol
{
    let address: BindAddress =
        configuration.unixPath.map { .unixDomainSocket(path: $0) }
        ?? .hostname(configuration.host, port: configuration.port)
    return Application(
        router: buildRouter(vault: vault, configuration: configuration),
        configuration: .init(address: address, serverName: nil),
        services: [SessionJanitor(vault: vault, logger: logger)],
        logger: logger)
}

/// Sweeps expired sessions every 30 s; at graceful shutdown ends every session, wiping unlocked keys.
struct SessionJanitor: Service {
    let vault: Vault
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(30))
                vault.sessions.sweep()
            }
        }
        vault.sessions.endAll()
        logger.info("sessions ended; unlocked keys wiped")
    }
}
