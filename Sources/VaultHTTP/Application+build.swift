import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import VaultCore

/// How `serve` listens and what it accepts; flags win over the config file.
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8750
    public var unixPath: String?
    public var maxBodyBytes = 262_144
    public var maxContentBytes = 52_428_800
    /// How the client address (for throttling) is found: the peer, or behind a trusted proxy `X-Forwarded-For`.
    public var clientAddresses = ClientAddressResolver()

    public init() {}

    /// Trusts these proxy addresses' `X-Forwarded-For` (`--trusted-proxy`, repeatable; `trusted_proxies`).
    /// - Throws: `VaultError.invalidRequest` for an entry that is not an IP address.
    public mutating func setTrustedProxies(_ addresses: [String]) throws {
        clientAddresses = try ClientAddressResolver(trustedProxies: addresses)
    }

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

/// Builds the router: every route of the contract, behind the error/request-id middleware; `extraRoutes` adds
/// further route groups (the staff console) last, behind the same middleware.
public func buildRouter(
    vault: Vault, configuration: ServeConfiguration,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    extraRoutes: (Router<VaultRequestContext>) -> Void = { _ in }
) -> Router<VaultRequestContext> {
    let router = Router(context: VaultRequestContext.self)
    // Metrics outermost, so they see the status the error middleware turned each error into.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorMiddleware())
    // One line per request at debug only: every access that matters is in the access log already, and at info the
    // line cost about 6 % of the server's CPU under ingest load (issue 19's profile). `log_level: debug` shows them.
    router.add(middleware: LogRequestsMiddleware(.debug))
    MetricsController(vault: vault, registry: registry).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    let auth = Auth(vault: vault)
    ServiceController(vault: vault).addRoutes(to: router)
    RelayController(
        vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes,
        maxContentBytes: configuration.maxContentBytes
    ).addRoutes(to: router)
    SessionController(
        vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes,
        clientAddresses: configuration.clientAddresses
    ).addRoutes(to: router)
    CaseController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    AccessController(vault: vault, auth: auth).addRoutes(to: router)
    DeskController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    RecordController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    TriageController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    StatisticsController(vault: vault, auth: auth).addRoutes(to: router)
    TemplateController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    AutoReplyController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    AdminController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    AuditController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    DisclosureController(vault: vault, auth: auth, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    extraRoutes(router)
    return router
}

/// Builds the application: router, janitor (sessions, grants, rotations, purge; wipes sessions at shutdown),
/// checkpoint signer (timer and shutdown), background WAL checkpoints.
public func buildApplication(
    vault: Vault, configuration: ServeConfiguration, logger: Logger,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    extraRoutes: (Router<VaultRequestContext>) -> Void = { _ in }
) -> some ApplicationProtocol {
    let address: BindAddress =
        configuration.unixPath.map { .unixDomainSocket(path: $0) }
        ?? .hostname(configuration.host, port: configuration.port)
    return Application(
        router: buildRouter(
            vault: vault, configuration: configuration, registry: registry, extraRoutes: extraRoutes),
        configuration: .init(address: address, serverName: nil),
        services: [
            VaultJanitor(vault: vault, logger: logger), CheckpointService(vault: vault, logger: logger),
            WALCheckpointService(database: vault.database, logger: logger),
        ],
        logger: logger)
}

/// Housekeeping every 30 s: expired sessions swept, throttle summaries recorded, expired grants ended (new epochs), pending key rotations run.
/// At graceful shutdown it ends every session, wiping unlocked keys.
struct VaultJanitor: Service {
    let vault: Vault
    let logger: Logger

    func run() async throws {
        await tick(purge: true)
        try? await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(30))
                ticks += 1
                await tick(purge: ticks % 120 == 0)  // retention purge hourly
            }
        }
        do {
            try await vault.recordThrottleSummaries(closingAll: true)
        } catch {
            logger.warning("recording throttle summaries at shutdown failed")
        }
        vault.sessions.endAll()
        vault.endSenderSessions()
        logger.info("sessions ended; unlocked keys and sender session keys wiped")
    }

    func tick(purge: Bool = false) async {
        vault.sessions.sweep()
        do {
            try await vault.recordThrottleSummaries()
        } catch {
            logger.warning("recording throttle summaries failed")
        }
        let system = Caller(actor: "vault", role: "system", requestID: "janitor")
        do {
            try await vault.expireGrants()
            try await vault.runPendingRotations(caller: system)
            try await vault.sendDueBusyMessages()
            if purge { _ = try await vault.purge(dryRun: false, caller: system) }
        } catch {
            logger.error(
                "housekeeping failed", metadata: ["error": "\((error as? VaultError)?.code.rawValue ?? "other")"])
        }
    }
}

/// SQLite's WAL checkpoints on a connection of their own, every 200 ms, instead of inside the writer's COMMIT
/// (VaultCore's `runBackgroundCheckpoints`); stops at graceful shutdown.
struct WALCheckpointService: Service {
    let database: VaultDatabase
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await database.runBackgroundCheckpoints { reason in
                    logger.warning("background WAL checkpoint failed", metadata: ["reason": "\(reason)"])
                }
            }
        } catch is CancellationError {
        } catch {
            // The writer's own automatic checkpoint still bounds the WAL.
            logger.error("background WAL checkpoints not running", metadata: ["reason": "\(error)"])
        }
    }
}
