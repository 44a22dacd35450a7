import Configuration

/// One setting of `serve`: its key in the `--config` JSON file (the contract's snake_case), its flag, and the
/// environment variable that sets it (`CONSULTVAULT_` + the key in upper case).
enum ServeKey: String, CaseIterable, Sendable {
    case listen
    case unix
    case maxBodyBytes = "max_body_bytes"
    case maxContentBytes = "max_content_bytes"
    case logLevel = "log_level"
    case sessionIdleSeconds = "session_idle_seconds"
    case sessionLifetimeSeconds = "session_lifetime_seconds"
    case grantSeconds = "grant_seconds"
    case checkpointEvery = "checkpoint_every"
    case checkpointSeconds = "checkpoint_seconds"
    case trustedProxies = "trusted_proxies"

    enum Kind: Sendable {
        case string, integer, strings

        var description: String {
            switch self {
            case .string: "a string"
            case .integer: "a whole number"
            case .strings: "an array of strings"
            }
        }
    }

    var kind: Kind {
        switch self {
        case .listen, .unix, .logLevel: .string
        case .trustedProxies: .strings
        default: .integer
        }
    }

    /// The key as swift-configuration sees it (one component: the file's key).
    var configKey: ConfigKey { ConfigKey([rawValue]) }

    /// The command-line flag, nil for `log_level` (which has none).
    var flag: String? {
        switch self {
        case .logLevel: nil
        case .trustedProxies: "--trusted-proxy"
        default: "--" + rawValue.replacingOccurrences(of: "_", with: "-")
        }
    }

    /// `CONSULTVAULT_MAX_BODY_BYTES` for `max_body_bytes`.
    var environmentName: String { ServeSettings.environmentPrefix + rawValue.uppercased() }

    /// The key a file spelling stands for: the key itself, or a spelling the old `JSONDecoder`
    /// (`.convertFromSnakeCase`) also matched, such as `maxBodyBytes` or `MAX_BODY_BYTES`.
    static func forFileKey(_ name: String) -> (key: ServeKey, exact: Bool)? {
        if let key = ServeKey(rawValue: name) { return (key, true) }
        let converted = convertFromSnakeCase(name)
        return allCases.first { convertFromSnakeCase($0.rawValue) == converted }.map { ($0, false) }
    }

    /// Foundation's `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase`, which the file was decoded with
    /// before swift-configuration: `max_body_bytes` → `maxBodyBytes`, edge underscores kept.
    static func convertFromSnakeCase(_ key: String) -> String {
        guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first, key[last] == "_" { key.formIndex(before: &last) }
        let words = key[first...last].split(separator: "_")
        let joined =
            words.count == 1
            ? String(key[first...last])
            : ([words[0].lowercased()] + words.dropFirst().map(\.capitalized)).joined()
        return String(key[..<first]) + joined + String(key[key.index(after: last)...])
    }
}
