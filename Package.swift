// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "consultvault",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "consultvault", targets: ["consultvault"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/console-kit.git", from: "4.16.2"),
        // No traits: serve decodes its JSON file itself (see ServeConfigFile), as hummingbird also asks for none.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(
            name: "VaultCrypto",
            dependencies: ["CSodium"]
        ),
        .target(
            name: "VaultCore",
            dependencies: [
                "VaultCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .target(
            name: "VaultHTTP",
            dependencies: [
                "VaultCore",
                "VaultCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.yaml")]
        ),
        // The staff console under /console/ (server-rendered HTML, small JS modules, SSE); served by `serve`.
        .target(
            name: "VaultWeb",
            dependencies: [
                "VaultCore",
                "VaultCrypto",
                "VaultHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/templates"), .copy("Resources/static"), .copy("Resources/i18n")]
        ),
        // The LINE relay (`consultvault relay`): faces the internet, holds no database and no vault key.
        .target(
            name: "VaultRelay",
            dependencies: [
                "VaultCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "consultvault",
            dependencies: [
                "VaultCore",
                "VaultCrypto",
                "VaultHTTP",
                "VaultRelay",
                "VaultWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ConsoleKitTerminal", package: "console-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "consultvault-bench",
            dependencies: ["VaultCore", "VaultCrypto", .product(name: "GRDB", package: "GRDB.swift")]),
        .executableTarget(
            name: "consultvault-echo", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
        .target(name: "VaultTestSupport", dependencies: ["VaultCore", "VaultCrypto"], path: "Tests/Support"),
        .testTarget(name: "VaultCryptoTests", dependencies: ["VaultCrypto", "VaultTestSupport"], exclude: ["Vectors"]),
        .testTarget(name: "VaultRelayTests", dependencies: ["VaultRelay", "VaultCrypto"]),
        .testTarget(
            name: "VaultCoreTests",
            dependencies: [
                "VaultCore", "VaultCrypto", "VaultTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "VaultHTTPTests",
            dependencies: [
                "VaultHTTP",
                "VaultCore",
                "VaultCrypto",
                "VaultTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "VaultWebTests",
            dependencies: [
                "VaultWeb",
                "VaultHTTP",
                "VaultCore",
                "VaultCrypto",
                "VaultTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        // The CLI's own code (report rendering, serve's configuration), through `@testable import consultvault`.
        .testTarget(
            name: "ConsultVaultCLITests",
            dependencies: [
                "consultvault",
                "VaultCore",
                "VaultCrypto",
                "VaultHTTP",
                "VaultTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Vectors"]
        ),
    ]
)
