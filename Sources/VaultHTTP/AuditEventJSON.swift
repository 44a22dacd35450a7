import VaultCore
import VaultCrypto

/// One event of `GET /v1/audit/events` (API.md); `reason` is null when there is none.
struct AuditEventJSON: Encodable {
    let event: AuditEvent

    init(_ event: AuditEvent) { self.event = event }

    enum CodingKeys: String, CodingKey {
        case seq, time, actor, role, action, target, outcome, requestId, reason, hash
    }

    func encode(to encoder: Encoder) throws {
        let e = event.entry
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(e.seq, forKey: .seq)
        try c.encode(Timestamp.format(e.time), forKey: .time)
        try c.encode(e.actor, forKey: .actor)
        try c.encode(e.role, forKey: .role)
        try c.encode(e.action, forKey: .action)
        try c.encode(e.target, forKey: .target)
        try c.encode(e.outcome.rawValue, forKey: .outcome)
        try c.encode(e.requestID, forKey: .requestId)
        try c.encode(event.reason, forKey: .reason)
        try c.encode(e.hash.hex, forKey: .hash)
    }
}

/// One item of the break-glass review queue: the event plus `state`, `reviewer`, `comment`, `reviewed_at`.
struct BreakGlassJSON: Encodable {
    let item: BreakGlassItem

    init(_ item: BreakGlassItem) { self.item = item }

    enum CodingKeys: String, CodingKey {
        case seq, time, actor, role, target, reason, state, reviewer, comment, reviewedAt
    }

    func encode(to encoder: Encoder) throws {
        let e = item.event.entry
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(e.seq, forKey: .seq)
        try c.encode(Timestamp.format(e.time), forKey: .time)
        try c.encode(e.actor, forKey: .actor)
        try c.encode(e.role, forKey: .role)
        try c.encode(e.target, forKey: .target)
        try c.encode(item.event.reason, forKey: .reason)
        try c.encode(item.reviewed ? "reviewed" : "pending", forKey: .state)
        try c.encode(item.reviewer, forKey: .reviewer)
        try c.encode(item.comment, forKey: .comment)
        try c.encode(item.reviewedAt.map(Timestamp.format), forKey: .reviewedAt)
    }
}
