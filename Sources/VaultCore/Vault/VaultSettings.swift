import Foundation

/// Settings that are not key material; defaults follow API.md.
public struct VaultSettings: Sendable {
    public var sessionIdleSeconds: Int64 = 15 * 60
    public var sessionLifetimeSeconds: Int64 = 8 * 3600
    public var reopenWindowDays: Int64 = 30
    public var enrollmentCodeHours: Int64 = 72
    public var maxConcurrentDerivations = 2
    /// Passphrase checks allowed to wait for a derivation slot; beyond this, 429 at once.
    public var maxQueuedDerivations = 16
    /// How long an approved access request or a break-glass lasts.
    public var grantSeconds: Int64 = 3600
    /// A checkpoint is signed whenever the seq of a new entry is a multiple of this (0: never on count).
    public var checkpointEvery = 1000
    /// `serve` signs a checkpoint this often when entries were added (seconds).
    public var checkpointSeconds: Int64 = 60

    public init() {}
}
