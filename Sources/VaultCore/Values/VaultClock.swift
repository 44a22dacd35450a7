import Foundation

/// Milliseconds since the Unix epoch; the vault's only notion of time. Injectable for tests.
public struct VaultClock: Sendable {
    private let now: @Sendable () -> Int64

    public init(_ now: @escaping @Sendable () -> Int64) { self.now = now }

    public static let system = VaultClock { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    public func milliseconds() -> Int64 { now() }
}
