import ArgumentParser
import Configuration
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import VaultCore
import VaultCrypto
import VaultHTTP
import VaultWeb

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service. Refuses key files readable by group or others.",
        discussion: """
            Each setting comes from its flag, else the environment variable CONSULTVAULT_<KEY> (the file's key in \
            upper case, e.g. CONSULTVAULT_MAX_BODY_BYTES; trusted proxies comma-separated), else the --config file, \
            else the default. LOG_LEVEL still works, under the file's log_level.
            """)

    @OptionGroup var options: DataOptions

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8750).")
    var listen: String?

    @Option(help: "Listen on a Unix domain socket instead (for a relay on the same host).")
    var unix: String?

    @Option(
        help:
            "JSON config file: listen, unix, max_body_bytes, max_content_bytes, log_level, session_idle_seconds, session_lifetime_seconds, grant_seconds, checkpoint_every, checkpoint_seconds, trusted_proxies; flags and CONSULTVAULT_<KEY> variables win."
    )
    var config: String?

    @Option(
        name: .customLong("trusted-proxy"),
        help:
            "IP address of a reverse proxy whose X-Forwarded-For names the client, or `unix` for a proxy on --unix (repeatable); from any other peer the header is ignored."
    )
    var trustedProxy: [String] = []

    @Option(help: "Largest JSON body accepted (default 262144).")
    var maxBodyBytes: Int?

    @Option(help: "Largest media upload accepted (default 52428800).")
    var maxContentBytes: Int?

    @Option(help: "Idle timeout of a staff session in seconds (default 900).")
    var sessionIdleSeconds: Int64?

    @Option(help: "Absolute lifetime of a staff session in seconds (default 28800).")
    var sessionLifetimeSeconds: Int64?

    @Option(help: "How long an approved access request or a break-glass lasts, in seconds (default 3600).")
    var grantSeconds: Int64?

    @Option(help: "Sign an audit checkpoint every N entries (default 1000; 0: only on time).")
    var checkpointEvery: Int?

    @Option(help: "Sign an audit checkpoint every T seconds when entries were added (default 60).")
    var checkpointSeconds: Int?

    /// The flags given, as the highest layer of `ServeSettings`.
    var flags: [ServeKey: ConfigContent] {
        var flags: [ServeKey: ConfigContent] = [:]
        flags[.listen] = listen.map { .string($0) }
        flags[.unix] = unix.map { .string($0) }
        flags[.trustedProxies] = trustedProxy.isEmpty ? nil : .stringArray(trustedProxy)
        flags[.maxBodyBytes] = maxBodyBytes.map { .int($0) }
        flags[.maxContentBytes] = maxContentBytes.map { .int($0) }
        flags[.sessionIdleSeconds] = sessionIdleSeconds.map { .int(Int($0)) }
        flags[.sessionLifetimeSeconds] = sessionLifetimeSeconds.map { .int(Int($0)) }
        flags[.grantSeconds] = grantSeconds.map { .int(Int($0)) }
        flags[.checkpointEvery] = checkpointEvery.map { .int($0) }
        flags[.checkpointSeconds] = checkpointSeconds.map { .int($0) }
        return flags
    }

    func run() async throws {
        try await runReportingErrors {
            Hardening.disableCoreDumps()
            Hardening.limitMallocArenas()
            // StreamLogHandler's line format with less work per line (see LineLogHandler).
            let output = LineLogHandler.Output(descriptor: STDERR_FILENO)
            LoggingSystem.bootstrap { LineLogHandler(label: $0, output: output) }
            let loaded = try await ServeSettings.load(
                flags: flags, environment: ProcessInfo.processInfo.environment,
                file: try config.map { try ServeConfigFile.read(path: $0) })
            var logger = Logger(label: "consultvault")
            logger.logLevel = loaded.logLevel
            for warning in loaded.warnings { logger.warning("\(warning)") }
            let vault = try Vault.open(at: options.directory, settings: loaded.vault, logger: logger)
            if vault.isDemoVault {
                logger.warning(
                    "this is a demo/test vault (Argon2id profile \(vault.kdfProfile.rawValue)): not for real consultations"
                )
            }
            let serve = loaded.serve
            let location = serve.unixPath ?? "\(serve.host):\(serve.port)"
            logger.info("serving vault \(vault.keys.vaultID) on \(location)")
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(VaultMetrics.factory(registry: registry))
            // The staff console under /console/, on the same router and sessions as the API.
            let console = try Console(vault: vault, configuration: serve)
            let app = buildApplication(
                vault: vault, configuration: serve, logger: logger, registry: registry, extraRoutes: console.addRoutes)
            try await app.runService()
        }
    }
}
