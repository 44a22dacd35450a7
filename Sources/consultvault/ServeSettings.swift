import Configuration
import Logging
import VaultCore
import VaultHTTP

/// What `serve` runs with, read through one swift-configuration `ConfigReader` whose providers answer in this
/// order, the first that has a key winning: the flags, the environment (`CONSULTVAULT_MAX_BODY_BYTES`…; a list
/// is comma-separated), the `--config` file, then the defaults. `LOG_LEVEL` keeps its old place, under the file.
struct ServeSettings: Sendable {
    static let environmentPrefix = "CONSULTVAULT_"

    var serve = ServeConfiguration()
    var vault = VaultSettings()
    var logLevel: Logger.Level = .info
    /// Said once at start, at warning level: keys the file holds that serve ignores, and the like.
    var warnings: [String] = []

    /// Merges the layers and checks every value.
    /// - Parameters:
    ///   - flags: the values given on the command line (absent flags left out).
    ///   - environment: the process environment; only `CONSULTVAULT_<KEY>` for the keys of `ServeKey` and
    ///     `LOG_LEVEL` are read, and an empty variable counts as unset.
    ///   - file: the decoded `--config` file, if one was given.
    /// - Throws: `VaultError` naming where a wrong value came from (flag, variable, or file and key).
    static func load(flags: [ServeKey: ConfigContent], environment: [String: String], file: ServeConfigFile?)
        async throws -> ServeSettings
    {
        let layers = Layers(flags: flags, environment: environment, file: file)
        let reader = ConfigReader(providers: layers.providers)
        var result = ServeSettings()
        result.warnings = layers.warnings

        func value<T>(_ key: ServeKey, _ fetch: (ConfigKey) async throws -> T?) async throws -> T? {
            do {
                return try await fetch(key.configKey)
            } catch {
                // Flags arrive typed and the file was decoded by kind: a mismatch comes from the environment.
                throw VaultError(
                    .invalidRequest,
                    "\(layers.source(of: key) ?? key.rawValue) must be \(key.kind.description); fix or unset it")
            }
        }
        func string(_ key: ServeKey) async throws -> String? {
            try await value(key) { try await reader.fetchString(forKey: $0) }
        }
        func int(_ key: ServeKey) async throws -> Int? {
            try await value(key) { try await reader.fetchInt(forKey: $0) }
        }
        /// The old message, plus where the value came from when that was not its flag.
        func invalid(_ message: String, _ key: ServeKey) -> VaultError {
            guard let source = layers.source(of: key), source != key.flag else {
                return VaultError(.invalidRequest, message)
            }
            return VaultError(.invalidRequest, "\(message) (set by \(source))")
        }

        var serve = ServeConfiguration()
        if let listen = try await string(.listen) {
            do { try serve.setListen(listen) } catch let e as VaultError { throw invalid(e.message, .listen) }
        }
        serve.unixPath = try await string(.unix)
        let proxies = try await value(.trustedProxies) { try await reader.fetchStringArray(forKey: $0) } ?? []
        do { try serve.setTrustedProxies(proxies) } catch let e as VaultError {
            throw invalid(e.message, .trustedProxies)
        }
        if let b = try await int(.maxBodyBytes) {
            guard b >= 1024 else { throw invalid("--max-body-bytes must be at least 1024", .maxBodyBytes) }
            serve.maxBodyBytes = b
        }
        if let c = try await int(.maxContentBytes) { serve.maxContentBytes = c }
        result.serve = serve

        if let level = try await string(.logLevel) {
            if let parsed = Logger.Level(rawValue: level) {
                result.logLevel = parsed
            } else {
                result.warnings.append(
                    "log level \"\(level)\" (\(layers.source(of: .logLevel) ?? "log_level")) is not one of "
                        + Logger.Level.allCases.map(\.rawValue).joined(separator: ", ") + "; using info")
            }
        }

        var settings = VaultSettings()
        if let v = try await int(.sessionIdleSeconds) { settings.sessionIdleSeconds = Int64(v) }
        if let v = try await int(.sessionLifetimeSeconds) { settings.sessionLifetimeSeconds = Int64(v) }
        if let v = try await int(.grantSeconds) { settings.grantSeconds = Int64(v) }
        guard settings.sessionIdleSeconds >= 60, settings.sessionLifetimeSeconds >= settings.sessionIdleSeconds,
            settings.grantSeconds >= 60
        else {
            throw VaultError(.invalidRequest, "session and grant durations must be at least 60 s (lifetime ≥ idle)")
        }
        if let n = try await int(.checkpointEvery) {
            guard n >= 0 else { throw invalid("--checkpoint-every must be 0 or more", .checkpointEvery) }
            settings.checkpointEvery = n
        }
        if let t = try await int(.checkpointSeconds) {
            guard t >= 1 else { throw invalid("--checkpoint-seconds must be at least 1", .checkpointSeconds) }
            settings.checkpointSeconds = Int64(t)
        }
        result.vault = settings
        return result
    }
}

extension ServeSettings {
    /// The four layers as providers, and which of them set a key (for messages).
    struct Layers {
        let flags: [ServeKey: ConfigContent]
        /// `CONSULTVAULT_<KEY>` variables that are set and not empty, by key.
        let environment: [ServeKey: String]
        let file: ServeConfigFile?
        /// `LOG_LEVEL`, read after the file as before this reader existed.
        let logLevel: String?

        init(flags: [ServeKey: ConfigContent], environment: [String: String], file: ServeConfigFile?) {
            self.flags = flags
            var picked: [ServeKey: String] = [:]
            for key in ServeKey.allCases {
                if let v = environment[key.environmentName], !v.isEmpty { picked[key] = v }
            }
            self.environment = picked
            self.file = file
            logLevel = environment["LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 }
        }

        static var defaults: [ServeKey: ConfigContent] {
            let serve = ServeConfiguration()
            let vault = VaultSettings()
            return [
                .listen: .string("\(serve.host):\(serve.port)"),
                .maxBodyBytes: .int(serve.maxBodyBytes),
                .maxContentBytes: .int(serve.maxContentBytes),
                .logLevel: .string(Logger.Level.info.rawValue),
                .sessionIdleSeconds: .int(Int(vault.sessionIdleSeconds)),
                .sessionLifetimeSeconds: .int(Int(vault.sessionLifetimeSeconds)),
                .grantSeconds: .int(Int(vault.grantSeconds)),
                .checkpointEvery: .int(vault.checkpointEvery),
                .checkpointSeconds: .int(Int(vault.checkpointSeconds)),
                .trustedProxies: .stringArray([]),
            ]
        }

        /// Highest priority first.
        var providers: [any ConfigProvider] {
            // Only the variables named above reach the provider (never CONSULTVAULT_PASSPHRASE and the like).
            let variables = Dictionary(uniqueKeysWithValues: environment.map { ($0.key.environmentName, $0.value) })
            return [
                Self.memory("flags", flags),
                EnvironmentVariablesProvider(environmentVariables: variables)
                    .prefixKeys(with: ConfigKey([String(ServeSettings.environmentPrefix.dropLast()).lowercased()])),
                Self.memory("--config \(file?.path ?? "(none)")", file?.values ?? [:]),
                EnvironmentVariablesProvider(environmentVariables: logLevel.map { ["LOG_LEVEL": $0] } ?? [:]),
                Self.memory("defaults", Self.defaults),
            ]
        }

        private static func memory(_ name: String, _ values: [ServeKey: ConfigContent]) -> InMemoryProvider {
            InMemoryProvider(
                name: name,
                values: Dictionary(
                    uniqueKeysWithValues: values.map {
                        (AbsoluteConfigKey([$0.key.rawValue]), ConfigValue($0.value, isSecret: false))
                    }))
        }

        /// Where a non-default value of `key` comes from: its flag, its variable, or the file's key.
        func source(of key: ServeKey) -> String? {
            if flags[key] != nil { return key.flag }
            if environment[key] != nil { return key.environmentName }
            if let file, file.values[key] != nil { return "\(key.rawValue) in --config \(file.path)" }
            if key == .logLevel, logLevel != nil { return "LOG_LEVEL" }
            return nil
        }

        var warnings: [String] {
            guard let file else { return [] }
            return file.unknownKeys.map {
                "--config \(file.path): unknown key \"\($0)\" ignored; the keys are "
                    + ServeKey.allCases.map(\.rawValue).joined(separator: ", ")
            }
                + file.variantKeys.map {
                    "--config \(file.path): \"\($0.spelling)\" read as \"\($0.key.rawValue)\"; write it that way"
                }
        }
    }
}
