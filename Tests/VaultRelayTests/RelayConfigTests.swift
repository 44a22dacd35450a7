import Foundation
import Testing
import VaultCrypto

@testable import VaultRelay

/// A scratch folder with a valid relay config (tokens, key file), each file 0600.
struct ConfigFolder {
    let url: URL
    var config: URL { url.appendingPathComponent("relay.json") }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("relay-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try write("vault.token", "  cvr_vaulttoken  \nsecond line ignored\n")
        try write("line.token", "line-access-token\n")
        _ = try RelayKeyFile.generate(to: url.appendingPathComponent("relay.key").path)
    }

    func write(_ name: String, _ text: String, mode: Int = 0o600) throws {
        let path = url.appendingPathComponent(name).path
        try? FileManager.default.removeItem(atPath: path)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    static var valid: [String: Any] {
        [
            "listen": "127.0.0.1:18780", "vault_url": "http://127.0.0.1:8750/", "vault_token_file": "vault.token",
            "line_api_base": "http://127.0.0.1:9000", "line_data_api_base": "http://127.0.0.1:9000",
            "channels": [
                [
                    "desk": "d1", "webhook_path": "/line/d1", "access_token_file": "line.token",
                    "relay_key_file": "relay.key",
                ]
            ],
        ]
    }

    func writeConfig(_ object: [String: Any], mode: Int = 0o600) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try write("relay.json", String(decoding: data, as: UTF8.self), mode: mode)
    }

    func load() throws -> RelayConfig { try RelayConfig.load(path: config.path) }

    func error() -> String {
        do {
            _ = try load()
            return "(loaded)"
        } catch let e as RelayConfigError {
            return e.message
        } catch {
            return "unexpected \(error)"
        }
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

@Suite struct RelayConfigTests {
    @Test("a valid config loads: URLs without trailing slash, paths relative to the file, tokens' first line trimmed")
    func valid() throws {
        let f = try ConfigFolder()
        defer { f.remove() }
        try f.writeConfig(ConfigFolder.valid)
        let c = try f.load()
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 18780)
        #expect(c.vaultURL == "http://127.0.0.1:8750")
        #expect(c.vaultToken.withUnsafeBytes { Array($0) } == Array("cvr_vaulttoken".utf8))
        #expect(c.channels.count == 1)
        #expect(c.channels[0].accessToken.withUnsafeBytes { Array($0) } == Array("line-access-token".utf8))
        #expect(c.channels[0].webhookPath == "/line/d1")
        #expect("\(c.vaultToken)".contains("cvr_") == false)
    }

    @Test("keygen writes a 0600 file whose key the config loads; the printed public key matches; never overwrites")
    func keygen() throws {
        let f = try ConfigFolder()
        defer { f.remove() }
        let path = f.url.appendingPathComponent("new.key").path
        let pub = try RelayKeyFile.generate(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let pair = try RelayKeyFile.read(path)
        #expect(Data(pair.publicKey).base64EncodedString() == pub)
        let sealed = try SealedBox.seal(Array("hello".utf8), to: pair.publicKey)
        #expect(try SealedBox.open(sealed, with: pair).withUnsafeBytes { Array($0) } == Array("hello".utf8))
        #expect(throws: RelayConfigError.self) { try RelayKeyFile.generate(to: path) }
    }

    @Test("a loose config, token or key file is refused naming the file and chmod 600; 0400 is fine")
    func permissions() throws {
        let f = try ConfigFolder()
        defer { f.remove() }
        try f.writeConfig(ConfigFolder.valid, mode: 0o644)
        #expect(f.error().contains("chmod 600 \(f.config.path)"))
        try f.writeConfig(ConfigFolder.valid, mode: 0o400)
        _ = try f.load()
        try f.writeConfig(ConfigFolder.valid)
        let token = f.url.appendingPathComponent("line.token").path
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: token)
        #expect(f.error().contains("chmod 600 \(token)"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: token)
        let key = f.url.appendingPathComponent("relay.key").path
        try FileManager.default.setAttributes([.posixPermissions: 0o604], ofItemAtPath: key)
        #expect(f.error().contains("chmod 600 \(key)"))
    }

    @Test("missing files are named")
    func missingFiles() throws {
        let f = try ConfigFolder()
        defer { f.remove() }
        #expect(f.error().contains(f.config.path))
        var c = ConfigFolder.valid
        c["vault_token_file"] = "nope.token"
        try f.writeConfig(c)
        #expect(f.error().contains(f.url.appendingPathComponent("nope.token").path))
    }

    @Test("malformed JSON, wrong types and bad values each get a message naming the key")
    func badInput() throws {
        let f = try ConfigFolder()
        defer { f.remove() }
        try f.write("relay.json", "{not json")
        #expect(f.error().contains("not a JSON object"))
        try f.write("relay.json", "[1,2]")
        #expect(f.error().contains("not a JSON object"))
        let cases: [(String, Any?, String)] = [
            ("listen", 8780, "`listen` must be a string"),
            ("listen", "localhost", "`listen` must be HOST:PORT"),
            ("listen", "127.0.0.1:70000", "`listen` must be HOST:PORT"),
            ("vault_url", "ftp://x", "`vault_url` must be an http"),
            ("line_api_base", "not a url", "`line_api_base` must be an http"),
            ("vault_token_file", nil, "missing key `vault_token_file`"),
            ("vault_token_file", true, "`vault_token_file` must be a string"),
            ("channels", [], "`channels` must be a non-empty array"),
            ("channels", "d1", "`channels` must be a non-empty array"),
            ("channels", [1], "`channels[0]` must be an object"),
            ("channels", nil, "missing key `channels`"),
        ]
        for (key, value, message) in cases {
            var c = ConfigFolder.valid
            c[key] = value
            try f.writeConfig(c)
            let got = f.error()
            #expect(got.contains(message), "\(key)=\(String(describing: value)): \(got)")
        }
        let channel = (ConfigFolder.valid["channels"] as! [[String: Any]])[0]
        let channelCases: [(String, Any?, String)] = [
            ("desk", nil, "missing key `channels[0].desk`"),
            ("desk", 5, "`channels[0].desk` must be a string"),
            ("webhook_path", "line/d1", "`channels[0].webhook_path` must be a path"),
            ("webhook_path", "/metrics", "`channels[0].webhook_path` must be a path"),
            ("relay_key_file", "line.token", "is not a relay key file"),
        ]
        for (key, value, message) in channelCases {
            var ch = channel
            ch[key] = value
            var c = ConfigFolder.valid
            c["channels"] = [ch]
            try f.writeConfig(c)
            let got = f.error()
            #expect(got.contains(message), "\(key): \(got)")
        }
        var c = ConfigFolder.valid
        c["channels"] = [channel, channel]
        try f.writeConfig(c)
        #expect(f.error().contains("listed twice"))
        try f.write("line.token", "   \n")
        try f.writeConfig(ConfigFolder.valid)
        #expect(f.error().contains("is empty"))
    }
}
