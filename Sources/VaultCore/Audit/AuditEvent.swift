/// Filters for `GET /v1/audit/events`.
public struct AuditEventQuery: Sendable {
    /// Exclusive seq.
    public var after: Int64 = 0
    public var limit = 100
    public var actor: String?
    public var action: String?
    public var caseID: ID?
    /// Exclusive seq: the `limit` entries just before it (still returned oldest first), instead of after `after`.
    public var before: Int64?
    public var outcome: AuditEntry.Outcome?
    /// Entries at or after this time (Unix ms).
    public var since: Int64?
    /// Entries before this time (Unix ms).
    public var until: Int64?

    public init() {}
}

/// An access-log entry as an auditor sees it: the reason opened with the auditors' key (nil when there is
/// none, or this auditor has not been confirmed into the key).
public struct AuditEvent: Sendable, Equatable {
    public let entry: AuditEntry
    public let reason: String?
}

/// A break-glass start with its review state.
public struct BreakGlassItem: Sendable, Equatable {
    public let event: AuditEvent
    public let reviewer: String?
    public let comment: String?
    public let reviewedAt: Int64?

    public var reviewed: Bool { reviewer != nil }
}

/// A stored signed note (checkpoint, restore marker, purge note).
public struct StoredAuditNote: Sendable, Equatable {
    public let kind: AuditNote.Kind
    public let seq: Int64
    public let time: Int64
    public let note: String
}
