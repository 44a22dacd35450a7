import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import VaultCore
import VaultCrypto
import VaultHTTP

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service. Refuses key files readable by group or others.")

    @OptionGroup var options: DataOptions

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8750).")
    var listen: String?

    @Option(help: "Listen on a Unix domain socket instead (for a relay on the same host).")
    var unix: String?

    @Option(
        help:
            "JSON config file: listen, unix, max_body_bytes, max_content_bytes, log_level, session_idle_seconds, session_lifetime_seconds, grant_seconds, trusted_proxies; flags win."
    )
    var config: String?

    @Option(
        name: .customLong("trusted-proxy"),
        help:
            "IP address of a reverse proxy whose X-Forwarded-For names the client (repeatable); from any other peer the header is ignored."
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

    struct FileConfig: Decodable {
        var sessionIdleSeconds: Int64?
        var sessionLifetimeSeconds: Int64?
        var grantSeconds: Int64?
        var listen: String?
        var unix: String?
        var maxBodyBytes: Int?
        var maxContentBytes: Int?
        var logLevel: String?
        var checkpointEvery: Int?
        var checkpointSeconds: Int?
        var trustedProxies: [String]?
    }

    func run() async throws {
        try await runReportingErrors {
            Hardening.disableCoreDumps()
            // StreamLogHandler's line format with less work per line (see LineLogHandler).
            let output = LineLogHandler.Output(descriptor: STDERR_FILENO)
            LoggingSystem.bootstrap { LineLogHandler(label: $0, output: output) }
            var file = FileConfig()
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else {
                    throw VaultError(.notFound, "cannot read --config \(config)")
                }
                do {
                    let decoder = JSONDecoder()
                    decoder.keyDecodingStrategy = .convertFromSnakeCase
                    file = try decoder.decode(FileConfig.self, from: data)
                } catch {
                    throw VaultError(.invalidRequest, "--config \(config) is not a valid JSON config: \(error)")
                }
            }
            var serve = ServeConfiguration()
            if let l = listen ?? file.listen { try serve.setListen(l) }
            serve.unixPath = unix ?? file.unix
            try serve.setTrustedProxies(trustedProxy.isEmpty ? file.trustedProxies ?? [] : trustedProxy)
            if let b = maxBodyBytes ?? file.maxBodyBytes {
                guard b >= 1024 else { throw VaultError(.invalidRequest, "--max-body-bytes must be at least 1024") }
                serve.maxBodyBytes = b
            }
            if let c = maxContentBytes ?? file.maxContentBytes { serve.maxContentBytes = c }
            var logger = Logger(label: "consultvault")
            logger.logLevel =
                (file.logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"]).flatMap {
                    Logger.Level(rawValue: $0)
                } ?? .info
            var settings = VaultSettings()
            if let v = sessionIdleSeconds ?? file.sessionIdleSeconds { settings.sessionIdleSeconds = v }
            if let v = sessionLifetimeSeconds ?? file.sessionLifetimeSeconds { settings.sessionLifetimeSeconds = v }
            if let v = grantSeconds ?? file.grantSeconds { settings.grantSeconds = v }
            guard settings.sessionIdleSeconds >= 60, settings.sessionLifetimeSeconds >= settings.sessionIdleSeconds,
                settings.grantSeconds >= 60
            else {
                throw VaultError(.invalidRequest, "session and grant durations must be at least 60 s (lifetime ≥ idle)")
            }
            if let n = checkpointEvery ?? file.checkpointEvery {
                guard n >= 0 else { throw VaultError(.invalidRequest, "--checkpoint-every must be 0 or more") }
                settings.checkpointEvery = n
            }
            if let t = checkpointSeconds ?? file.checkpointSeconds {
                guard t >= 1 else { throw VaultError(.invalidRequest, "--checkpoint-seconds must be at least 1") }
                settings.checkpointSeconds = Int64(t)
            }
            let vault = try Vault.open(at: options.directory, settings: settings, logger: logger)
            if vault.isDemoVault {
                logger.warning(
                    "this is a demo/test vault (Argon2id profile \(vault.kdfProfile.rawValue)): not for real consultations"
                )
            }
            let location = serve.unixPath ?? "\(serve.host):\(serve.port)"
            logger.info("serving vault \(vault.keys.vaultID) on \(location)")
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(VaultMetrics.factory(registry: registry))
            let app = buildApplication(vault: vault, configuration: serve, logger: logger, registry: registry)
            try await app.runService()
        }
    }
}
