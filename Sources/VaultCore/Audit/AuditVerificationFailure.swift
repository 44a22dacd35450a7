/// Why an access log failed verification, naming the first bad seq when there is one.
public struct AuditVerificationFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public let seq: Int64?
    public let reason: String

    public init(seq: Int64?, _ reason: String) {
        self.seq = seq
        self.reason = reason
    }

    public var description: String { seq.map { "seq \($0): \(reason)" } ?? reason }
}

/// What a successful verification established.
public struct AuditVerificationSummary: Sendable, Equatable {
    public var entries: Int64 = 0
    public var checkpoints = 0
    public var restores = 0
    public var purges = 0
    public var purgedCases = 0
    public var superseded = 0
    /// The highest seq a valid note anchors (0 when none).
    public var newestAnchor: Int64 = 0
    /// Key hashes (hex) of the verifier keys whose signatures were checked.
    public var keys: [String] = []

    /// Entries after the newest checkpoint: chained, but not yet signed.
    public var unanchored: Int64 { entries - newestAnchor }

    /// The one-line summary `audit verify` prints.
    public var line: String {
        var s = "ok: \(entries) entries chain from seq 1 to \(entries); \(checkpoints) checkpoints"
        if restores > 0 { s += ", \(restores) restore markers" }
        if purges > 0 { s += ", \(purges) purge notes (\(purgedCases) cases)" }
        s += " verified with key \(keys.isEmpty ? "-" : keys.joined(separator: ", "))"
        if superseded > 0 { s += "; \(superseded) checkpoints superseded by a restore" }
        if newestAnchor == 0 {
            s += "; no checkpoint yet: all \(entries) entries are unanchored"
        } else {
            s += "; newest checkpoint at seq \(newestAnchor)"
            s += unanchored > 0 ? "; \(unanchored) entries after it are unanchored" : "; no unanchored entries"
        }
        return s
    }
}
