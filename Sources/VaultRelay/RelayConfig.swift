import Foundation
import VaultCrypto

/// `consultvault relay --config FILE`: the relay's settings (API.md "Relay service"), with the secrets its files
/// hold already read. Paths in the file are absolute or relative to the file's directory; the file and every file
/// it names must be mode 0600 or 0400.
public struct RelayConfig: Sendable {
    /// One LINE channel: the desk it feeds, where LINE posts its webhooks, and its two secrets.
    public struct Channel: Sendable {
        public let desk: String
        public let webhookPath: String
        public let accessToken: SecretBytes
        public let relayKey: BoxKeyPair
    }

    public let host: String
    public let port: Int
    public let vaultURL: String
    public let vaultToken: SecretBytes
    public let lineAPIBase: String
    public let lineDataAPIBase: String
    public let channels: [Channel]

    /// Reads and checks the config file and every file it names.
    /// - Throws: `RelayConfigError` naming the file (and key) at fault and what to do.
    public static func load(path: String) throws -> RelayConfig {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let file = url.path
        try RelayFiles.checkMode(file)
        let data = try RelayFiles.read(file)
        guard let object = try? JSONSerialization.jsonObject(with: data), let root = object as? [String: Any] else {
            throw RelayConfigError("\(file) is not a JSON object; see API.md \"Relay service\" for its keys")
        }
        let keys = Keys(root, file: file, path: "")
        let directory = url.deletingLastPathComponent()
        let (host, port) = try listen(keys.string("listen", default: "127.0.0.1:8780"), file: file)
        let vaultURL = try baseURL(keys.string("vault_url", default: "http://127.0.0.1:8750"), "vault_url", file)
        let vaultToken = try RelayFiles.token(resolve(keys.string("vault_token_file"), directory), named: file)
        let lineAPIBase = try baseURL(
            keys.string("line_api_base", default: "https://api.line.me"), "line_api_base", file)
        let lineDataAPIBase = try baseURL(
            keys.string("line_data_api_base", default: "https://api-data.line.me"), "line_data_api_base", file)
        guard let rawChannels = root["channels"] else {
            throw RelayConfigError("\(file): missing key `channels` (an array of {desk, webhook_path, …})")
        }
        guard let list = rawChannels as? [Any], !list.isEmpty else {
            throw RelayConfigError("\(file): `channels` must be a non-empty array")
        }
        var channels: [Channel] = []
        for (i, element) in list.enumerated() {
            guard let object = element as? [String: Any] else {
                throw RelayConfigError("\(file): `channels[\(i)]` must be an object")
            }
            let c = Keys(object, file: file, path: "channels[\(i)].")
            let desk = try c.string("desk")
            guard !desk.isEmpty, desk.utf8.count <= 64, desk.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw RelayConfigError("\(file): `channels[\(i)].desk` must be a desk name (1-64 ASCII characters)")
            }
            let webhookPath = try c.string("webhook_path")
            guard webhookPath.hasPrefix("/"), webhookPath.count > 1, !webhookPath.contains(":"),
                !webhookPath.contains("?"), !webhookPath.contains("*"),
                !["/healthz", "/metrics"].contains(webhookPath)
            else {
                throw RelayConfigError(
                    "\(file): `channels[\(i)].webhook_path` must be a path such as /line/\(desk) (not /healthz or /metrics)"
                )
            }
            if channels.contains(where: { $0.desk == desk }) {
                throw RelayConfigError("\(file): desk \(desk) is listed twice in `channels`")
            }
            if channels.contains(where: { $0.webhookPath == webhookPath }) {
                throw RelayConfigError("\(file): webhook_path \(webhookPath) is used twice in `channels`")
            }
            let accessToken = try RelayFiles.token(resolve(c.string("access_token_file"), directory), named: file)
            let relayKey = try RelayKeyFile.read(resolve(c.string("relay_key_file"), directory))
            channels.append(
                Channel(desk: desk, webhookPath: webhookPath, accessToken: accessToken, relayKey: relayKey))
        }
        return RelayConfig(
            host: host, port: port, vaultURL: vaultURL, vaultToken: vaultToken, lineAPIBase: lineAPIBase,
            lineDataAPIBase: lineDataAPIBase, channels: channels)
    }

    static func resolve(_ path: String, _ directory: URL) -> String {
        path.hasPrefix("/") ? path : directory.appendingPathComponent(path).standardizedFileURL.path
    }

    static func listen(_ value: String, file: String) throws -> (String, Int) {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
            (1...65535).contains(port), colon != value.startIndex
        else { throw RelayConfigError("\(file): `listen` must be HOST:PORT, e.g. 127.0.0.1:8780") }
        return (String(value[..<colon]), port)
    }

    static func baseURL(_ value: String, _ key: String, _ file: String) throws -> String {
        var v = value
        while v.hasSuffix("/") { v.removeLast() }
        guard v.hasPrefix("http://") || v.hasPrefix("https://"), let url = URL(string: v), url.host != nil,
            url.query == nil, url.fragment == nil
        else {
            throw RelayConfigError("\(file): `\(key)` must be an http:// or https:// URL, e.g. https://api.line.me")
        }
        return v
    }

    /// Typed access to one JSON object's keys, with errors that name the file and key.
    struct Keys {
        let object: [String: Any]
        let file: String
        let path: String

        init(_ object: [String: Any], file: String, path: String) {
            self.object = object
            self.file = file
            self.path = path
        }

        func string(_ key: String, default value: String? = nil) throws -> String {
            guard let raw = object[key] else {
                if let value { return value }
                throw RelayConfigError("\(file): missing key `\(path)\(key)` (a string)")
            }
            guard let s = raw as? String, !(raw is NSNumber) else {
                throw RelayConfigError("\(file): `\(path)\(key)` must be a string")
            }
            guard !s.isEmpty else { throw RelayConfigError("\(file): `\(path)\(key)` must not be empty") }
            return s
        }
    }
}

/// A bad relay setting: the message names the file and what to do; `relay` prints it and exits 1.
public struct RelayConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
