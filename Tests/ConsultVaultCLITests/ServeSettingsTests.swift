import Configuration
import Foundation
import Logging
import Testing
import VaultCore
import VaultHTTP

@testable import consultvault

@Suite struct ServeSettingsTests {
    static func file(_ json: String, path: String = "/etc/consultvault/config.json") throws -> ServeConfigFile {
        try ServeConfigFile(path: path, data: Data(json.utf8))
    }

    static func load(
        flags: [ServeKey: ConfigContent] = [:], environment: [String: String] = [:], file: ServeConfigFile? = nil
    ) async throws -> ServeSettings {
        try await ServeSettings.load(flags: flags, environment: environment, file: file)
    }

    /// The error `body` throws (a `VaultError`), as its message.
    static func message(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let e as VaultError {
            return e.message
        } catch {
            return "not a VaultError: \(error)"
        }
    }

    @Test("with nothing given, the defaults of ServeConfiguration and VaultSettings")
    func defaults() async throws {
        let s = try await Self.load()
        #expect(s.serve.host == "127.0.0.1" && s.serve.port == 8750 && s.serve.unixPath == nil)
        #expect(s.serve.maxBodyBytes == 262_144 && s.serve.maxContentBytes == 52_428_800)
        #expect(s.vault.sessionIdleSeconds == 900 && s.vault.sessionLifetimeSeconds == 28_800)
        #expect(s.vault.grantSeconds == 3600 && s.vault.checkpointEvery == 1000 && s.vault.checkpointSeconds == 60)
        #expect(s.logLevel == .info && s.warnings.isEmpty)
        #expect(s.serve.clientAddresses.resolve(peer: "127.0.0.1", forwardedFor: ["203.0.113.9"]) == "127.0.0.1")
    }

    @Test("a flag beats the environment, which beats the file, which beats the default")
    func precedence() async throws {
        let file = try Self.file(
            #"{"max_body_bytes": 3000, "listen": "127.0.0.1:3000", "session_idle_seconds": 300, "log_level": "debug"}"#)
        let env = [
            "CONSULTVAULT_MAX_BODY_BYTES": "2000", "CONSULTVAULT_LISTEN": "127.0.0.1:2000",
            "CONSULTVAULT_SESSION_IDLE_SECONDS": "200",
        ]
        let flags: [ServeKey: ConfigContent] = [
            .maxBodyBytes: .int(1024), .listen: .string("127.0.0.1:1000"), .sessionIdleSeconds: .int(100),
        ]

        let all = try await Self.load(flags: flags, environment: env, file: file)
        #expect(all.serve.maxBodyBytes == 1024 && all.serve.port == 1000 && all.vault.sessionIdleSeconds == 100)
        let noFlags = try await Self.load(environment: env, file: file)
        #expect(noFlags.serve.maxBodyBytes == 2000 && noFlags.serve.port == 2000)
        #expect(noFlags.vault.sessionIdleSeconds == 200)
        let fileOnly = try await Self.load(file: file)
        #expect(fileOnly.serve.maxBodyBytes == 3000 && fileOnly.serve.port == 3000)
        #expect(fileOnly.vault.sessionIdleSeconds == 300 && fileOnly.logLevel == .debug)
        // Keys a layer does not set fall through to the next one.
        let mixed = try await Self.load(flags: [.listen: .string("127.0.0.1:1000")], environment: env, file: file)
        #expect(mixed.serve.port == 1000 && mixed.serve.maxBodyBytes == 2000 && mixed.vault.grantSeconds == 3600)
    }

    @Test("trusted proxies: the repeated flag, else CONSULTVAULT_TRUSTED_PROXIES comma-separated, else the file")
    func trustedProxies() async throws {
        func trusts(_ s: ServeSettings, _ peer: String) -> Bool {
            s.serve.clientAddresses.resolve(peer: peer, forwardedFor: ["203.0.113.9"]) == "203.0.113.9"
        }
        let file = try Self.file(#"{"trusted_proxies": ["10.0.0.3"]}"#)
        let env = ["CONSULTVAULT_TRUSTED_PROXIES": "10.0.0.1, ::1"]
        let fromFlag = try await Self.load(
            flags: [.trustedProxies: .stringArray(["10.0.0.2"])], environment: env, file: file)
        #expect(trusts(fromFlag, "10.0.0.2") && !trusts(fromFlag, "10.0.0.1") && !trusts(fromFlag, "10.0.0.3"))
        let fromEnv = try await Self.load(environment: env, file: file)
        #expect(trusts(fromEnv, "10.0.0.1") && trusts(fromEnv, "::1") && !trusts(fromEnv, "10.0.0.3"))
        let fromFile = try await Self.load(file: file)
        #expect(trusts(fromFile, "10.0.0.3") && !trusts(fromFile, "10.0.0.1"))
        let bad = await Self.message { _ = try await Self.load(environment: ["CONSULTVAULT_TRUSTED_PROXIES": "proxy"]) }
        #expect(bad?.contains("trusted proxy proxy is not an IP address") == true)
        #expect(bad?.contains("CONSULTVAULT_TRUSTED_PROXIES") == true)
    }

    @Test("LOG_LEVEL still works, under the file's log_level; CONSULTVAULT_LOG_LEVEL is above the file")
    func logLevel() async throws {
        #expect(try await Self.load(environment: ["LOG_LEVEL": "debug"]).logLevel == .debug)
        let file = try Self.file(#"{"log_level": "warning"}"#)
        #expect(try await Self.load(environment: ["LOG_LEVEL": "debug"], file: file).logLevel == .warning)
        let env = ["LOG_LEVEL": "debug", "CONSULTVAULT_LOG_LEVEL": "error"]
        #expect(try await Self.load(environment: env, file: file).logLevel == .error)
        // An unknown level falls back to info, as before, and now says so.
        let odd = try await Self.load(file: Self.file(#"{"log_level": "verbose"}"#))
        #expect(odd.logLevel == .info)
        #expect(odd.warnings.contains { $0.contains("verbose") && $0.contains("log_level in --config") })
    }

    @Test("an empty variable counts as unset; other CONSULTVAULT_ variables are not read")
    func emptyVariable() async throws {
        let s = try await Self.load(
            environment: ["CONSULTVAULT_MAX_BODY_BYTES": "", "CONSULTVAULT_PASSPHRASE": "secret"],
            file: Self.file(#"{"max_body_bytes": 4096}"#))
        #expect(s.serve.maxBodyBytes == 4096)
    }

    @Test("out-of-range values are refused with the old message, naming where they came from")
    func outOfRange() async throws {
        let flag = await Self.message { _ = try await Self.load(flags: [.maxBodyBytes: .int(100)]) }
        #expect(flag == "--max-body-bytes must be at least 1024")
        let env = await Self.message { _ = try await Self.load(environment: ["CONSULTVAULT_MAX_BODY_BYTES": "100"]) }
        #expect(env == "--max-body-bytes must be at least 1024 (set by CONSULTVAULT_MAX_BODY_BYTES)")
        let file = await Self.message { _ = try await Self.load(file: Self.file(#"{"max_body_bytes": 100}"#)) }
        #expect(
            file
                == "--max-body-bytes must be at least 1024 (set by max_body_bytes in --config /etc/consultvault/config.json)"
        )
        let every = await Self.message { _ = try await Self.load(file: Self.file(#"{"checkpoint_every": -1}"#)) }
        #expect(every?.hasPrefix("--checkpoint-every must be 0 or more") == true)
        let seconds = await Self.message { _ = try await Self.load(flags: [.checkpointSeconds: .int(0)]) }
        #expect(seconds == "--checkpoint-seconds must be at least 1")
        let idle = await Self.message {
            _ = try await Self.load(environment: ["CONSULTVAULT_SESSION_IDLE_SECONDS": "59"])
        }
        #expect(idle == "session and grant durations must be at least 60 s (lifetime ≥ idle)")
        let lifetime = await Self.message {
            _ = try await Self.load(
                file: Self.file(#"{"session_idle_seconds": 7200, "session_lifetime_seconds": 3600}"#))
        }
        #expect(lifetime == "session and grant durations must be at least 60 s (lifetime ≥ idle)")
        let listen = await Self.message { _ = try await Self.load(file: Self.file(#"{"listen": "localhost"}"#)) }
        #expect(listen?.hasPrefix("--listen must be HOST:PORT") == true && listen?.contains("--config") == true)
    }

    @Test("a variable of the wrong type names the variable")
    func wrongTypeInEnvironment() async throws {
        let m = await Self.message { _ = try await Self.load(environment: ["CONSULTVAULT_MAX_BODY_BYTES": "big"]) }
        #expect(m == "CONSULTVAULT_MAX_BODY_BYTES must be a whole number; fix or unset it")
    }

    @Test("a file value of the wrong type names the file and the key; the old decoder's rules hold")
    func wrongTypeInFile() async throws {
        for (json, key) in [
            (#"{"max_body_bytes": "262144"}"#, "max_body_bytes"), (#"{"max_body_bytes": true}"#, "max_body_bytes"),
            (#"{"checkpoint_every": 1.5}"#, "checkpoint_every"), (#"{"grant_seconds": 1e30}"#, "grant_seconds"),
            (#"{"listen": 8750}"#, "listen"),
            (#"{"trusted_proxies": "127.0.0.1"}"#, "trusted_proxies"),
            (#"{"trusted_proxies": [1]}"#, "trusted_proxies"),
            (#"{"log_level": {"level": "debug"}}"#, "log_level"),
        ] {
            let m = await Self.message { _ = try Self.file(json) }
            #expect(
                m?.hasPrefix("--config /etc/consultvault/config.json: \"\(key)\" must be ") == true,
                "\(json): \(m ?? "no error")")
        }
        // null is "not set", as before (config.example.json has "unix": null); 2048.0 is a whole number, as before.
        let s = try await Self.load(file: Self.file(#"{"unix": null, "max_body_bytes": null, "grant_seconds": 120.0}"#))
        #expect(s.serve.unixPath == nil && s.serve.maxBodyBytes == 262_144 && s.vault.grantSeconds == 120)
    }

    @Test("malformed JSON and a non-object are refused, naming the file")
    func malformed() async throws {
        let m = await Self.message { _ = try Self.file("{\"max_body_bytes\": 262144,\n \"listen\" 2}") }
        #expect(m?.hasPrefix("--config /etc/consultvault/config.json is not valid JSON") == true, "\(m ?? "")")
        #expect(m?.contains("character 37") == true, "\(m ?? "")")  // where, as JSONSerialization says it
        let array = await Self.message { _ = try Self.file(#"["listen"]"#) }
        #expect(
            array == "--config /etc/consultvault/config.json must hold one JSON object, as in ops/config.example.json")
    }

    @Test("unknown keys are ignored as before, with a warning naming the file and the key")
    func unknownKey() async throws {
        let s = try await Self.load(file: Self.file(#"{"max_body_byte": 1, "listen": "127.0.0.1:9000"}"#))
        #expect(s.serve.port == 9000 && s.serve.maxBodyBytes == 262_144)
        #expect(s.warnings.count == 1)
        #expect(
            s.warnings.first?.contains("--config /etc/consultvault/config.json: unknown key \"max_body_byte\"") == true)
    }

    @Test("spellings the old snake-case decoder matched (maxBodyBytes) still work, with a warning; not twice")
    func variantSpelling() async throws {
        let s = try await Self.load(file: Self.file(#"{"maxBodyBytes": 4096, "GRANT_SECONDS": 120}"#))
        #expect(s.serve.maxBodyBytes == 4096 && s.vault.grantSeconds == 120)
        #expect(s.warnings.contains { $0.contains("\"maxBodyBytes\" read as \"max_body_bytes\"") })
        let twice = await Self.message { _ = try Self.file(#"{"maxBodyBytes": 4096, "max_body_bytes": 4096}"#) }
        #expect(twice?.contains("both set max_body_bytes") == true)
    }

    @Test("an unreadable file is refused, naming it")
    func unreadable() async throws {
        let missing = "/nonexistent/\(UUID().uuidString).json"
        let m = await Self.message { _ = try ServeConfigFile.read(path: missing) }
        #expect(m?.hasPrefix("cannot read --config \(missing)") == true)
        let directory = FileManager.default.temporaryDirectory.path
        let d = await Self.message { _ = try ServeConfigFile.read(path: directory) }
        #expect(d?.hasPrefix("cannot read --config \(directory)") == true)
    }

    @Test("ops/config.example.json reads without warnings and gives the defaults")
    func example() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../ops/config.example.json").standardizedFileURL.path
        let s = try await Self.load(file: ServeConfigFile.read(path: path))
        #expect(s.warnings.isEmpty)
        #expect(s.serve.maxBodyBytes == 262_144 && s.serve.port == 8750 && s.vault.grantSeconds == 3600)
    }
}

@Suite struct ServeFlagsTests {
    @Test("every flag of serve becomes the highest layer under its file key (ServeKey.flag is the real flag)")
    func flagsReachTheirKeys() throws {
        let values: [ServeKey: String] = [
            .listen: "127.0.0.1:1", .unix: "/run/x.sock", .trustedProxies: "::1", .maxBodyBytes: "2048",
            .maxContentBytes: "4096", .sessionIdleSeconds: "61", .sessionLifetimeSeconds: "62", .grantSeconds: "63",
            .checkpointEvery: "5", .checkpointSeconds: "6",
        ]
        var arguments: [String] = []
        for (key, value) in values { arguments += [try #require(key.flag), value] }
        let flags = try Serve.parse(arguments).flags
        #expect(Set(flags.keys) == Set(values.keys))
        #expect(flags[.maxBodyBytes] == .int(2048) && flags[.sessionIdleSeconds] == .int(61))
        #expect(flags[.trustedProxies] == .stringArray(["::1"]) && flags[.listen] == .string("127.0.0.1:1"))
        #expect(ServeKey.logLevel.flag == nil)
        #expect(try Serve.parse([]).flags.isEmpty)
    }
}
