import Foundation

/// A JSON tree for package files (JSONValue holds scalars only).
public indirect enum PackageJSON: Encodable, Sendable {
    case scalar(JSONValue)
    case object([String: PackageJSON])
    case array([PackageJSON])

    public static func string(_ s: String) -> PackageJSON { .scalar(.string(s)) }
    public static let null = PackageJSON.scalar(.null)

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .scalar(let v): try v.encode(to: encoder)
        case .object(let o): try o.encode(to: encoder)
        case .array(let a): try a.encode(to: encoder)
        }
    }
}

/// The files of one case in a package (schema/FORMAT.md §21): transcript.json (the API's message objects),
/// transcript.html (a Japanese page, every value escaped, no external asset), notes.json, record.json.
public enum PackageContent {
    /// One message as the API's message object (keys sorted, explicit nulls).
    static func messageJSON(_ m: TranscriptMessage) -> PackageJSON {
        .object([
            "author": .string(m.author),
            "data": m.data.map { PackageJSON.object($0.mapValues(PackageJSON.scalar)) } ?? .null,
            "delivery": m.delivery.map(PackageJSON.string) ?? .null, "direction": .string(m.direction),
            "id": .string(m.id.description), "kind": .string(m.kind), "retracted": .scalar(.bool(m.retracted)),
            "sent_at": .string(Timestamp.format(m.sentAt)), "seq": .scalar(.int(Int64(m.seq))),
            "text": m.text.map(PackageJSON.string) ?? .null,
        ])
    }

    static func encode(_ value: PackageJSON) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }

    /// `{"case_id", "messages": [...]}`.
    public static func transcriptJSON(caseID: ID, _ messages: [TranscriptMessage]) throws -> [UInt8] {
        try encode(.object(["case_id": .string(caseID.description), "messages": .array(messages.map(messageJSON))]))
    }

    /// `{"case_id", "notes": [...]}`: the messages of direction `note`.
    public static func notesJSON(caseID: ID, _ messages: [TranscriptMessage]) throws -> [UInt8] {
        try encode(
            .object([
                "case_id": .string(caseID.description),
                "notes": .array(messages.filter { $0.direction == "note" }.map(messageJSON)),
            ]))
    }

    /// `{"case_id", "record": {…}}`: the coded case record (issue 17) as `GET /v1/cases/{id}/record` answers it
    /// (codes, computed figures, `updated_at` null when nobody wrote one), plus the case's `status`, `risk`,
    /// `opened_at` and `closed_at`.
    public static func recordJSON(
        caseID: ID, view: CaseRecordView, status: String, risk: String, openedAt: Int64,
        closedAt: Int64?
    ) throws -> [UInt8] {
        func int(_ v: Int64?) -> PackageJSON { v.map { .scalar(.int($0)) } ?? .null }
        func code(_ v: String?) -> PackageJSON { v.map(PackageJSON.string) ?? .null }
        let r = view.record
        return try encode(
            .object([
                "case_id": .string(caseID.description),
                "record": .object([
                    "categories": .array(r.categories.map(PackageJSON.string)), "age_band": code(r.ageBand),
                    "gender": code(r.gender), "outcome": code(r.outcome),
                    "referrals": .array(r.referrals.map(PackageJSON.string)),
                    "first_response_seconds": int(view.firstResponseSeconds),
                    "duration_seconds": int(view.durationSeconds),
                    "inbound_count": .scalar(.int(Int64(view.inboundCount))),
                    "outbound_count": .scalar(.int(Int64(view.outboundCount))),
                    "updated_at": view.updatedAt.map { .string(Timestamp.format($0)) } ?? .null,
                ]),
                "status": .string(status), "risk": .string(risk), "opened_at": .string(Timestamp.format(openedAt)),
                "closed_at": closedAt.map { .string(Timestamp.format($0)) } ?? .null,
            ]))
    }

    /// `{"case_id", "grants": [{"id", "kind", "user", "created_at", "expires_at", "expired", "audit_seq",
    /// "request_id"}], "requests": [{"id", "requester", "state", "requested_at", "decided_by", "decided_at"}]}`.
    public static func grantsJSON(caseID: ID, grants: [[String: JSONValue]], requests: [[String: JSONValue]]) throws
        -> [UInt8]
    {
        try encode(
            .object([
                "case_id": .string(caseID.description),
                "grants": .array(grants.map { .object($0.mapValues(PackageJSON.scalar)) }),
                "requests": .array(requests.map { .object($0.mapValues(PackageJSON.scalar)) }),
            ]))
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static let directionLabel = ["inbound": "相談者", "outbound": "返信", "note": "メモ", "event": "イベント"]

    /// A self-contained Japanese page (inline style only, no script, no external reference).
    public static func transcriptHTML(caseID: ID, desk: String, _ messages: [TranscriptMessage]) -> [UInt8] {
        var h = """
            <!DOCTYPE html>
            <html lang="ja"><head><meta charset="utf-8"><title>相談記録 \(escape(caseID.description))</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}\
            td,th{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}\
            td.t{white-space:pre-wrap}</style></head><body>
            <h1>相談記録</h1>
            <p>ケースID: \(escape(caseID.description))<br>窓口: \(escape(desk))<br>件数: \(messages.count)</p>
            <table><thead><tr><th>番号</th><th>日時 (UTC)</th><th>区分</th><th>種類</th><th>記入者</th><th>内容</th></tr></thead><tbody>

            """
        for m in messages {
            var content = m.text ?? ""
            if m.retracted && m.text == nil { content = "（送信取消）" }
            if let data = m.data, m.text == nil {
                let json =
                    (try? encode(.object(data.mapValues(PackageJSON.scalar)))).map {
                        String(decoding: $0, as: UTF8.self)
                    } ?? ""
                content += json.trimmingCharacters(in: .newlines)
            }
            h += "<tr><td>\(m.seq)</td><td>\(escape(Timestamp.format(m.sentAt)))</td>"
            h += "<td>\(escape(directionLabel[m.direction] ?? m.direction))</td><td>\(escape(m.kind))</td>"
            h += "<td>\(escape(m.author))</td><td class=\"t\">\(escape(content))</td></tr>\n"
        }
        h += "</tbody></table></body></html>\n"
        return Array(h.utf8)
    }

    /// `media/{message id}` with an extension for common types.
    public static func mediaPath(prefix: String, messageID: ID, contentType: String) -> String {
        let ext =
            [
                "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "video/mp4": ".mp4",
                "audio/m4a": ".m4a",
                "audio/mp4": ".m4a", "audio/mpeg": ".mp3", "application/pdf": ".pdf",
            ][contentType.lowercased()] ?? ""
        return "\(prefix)media/\(messageID)\(ext)"
    }
}
