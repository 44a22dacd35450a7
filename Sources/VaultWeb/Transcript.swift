import Foundation
import VaultCore

/// One transcript message as the templates show it: text as text (escaped by Mustache), stickers and locations
/// described in words, media as a link to the authorized content route, retracted messages marked.
enum Transcript {
    static func values(_ m: TranscriptMessage, caseID: ID, zone: TimeZone, lang: Lang, t: Catalogue) -> [String: Any] {
        var body = m.text ?? ""
        var media: String?
        let data = m.data ?? [:]
        func field(_ k: String) -> String {
            switch data[k] {
            case .string(let s)?: return s
            case .double(let n)?: return String(n)
            case .int(let n)?: return String(n)
            default: return ""
            }
        }
        switch m.kind {
        case "text": break
        case "sticker":
            body = t.text("kind_sticker", lang) + " (\(field("package_id"))/\(field("sticker_id")))"
        case "location":
            body =
                t.text("kind_location", lang) + ": "
                + [field("title"), field("address"), "\(field("latitude")), \(field("longitude"))"]
                .filter { !$0.isEmpty && $0 != ", " }.joined(separator: " / ")
        case "image", "video", "audio", "file":
            body = t.text("kind_\(m.kind)", lang) + " " + field("content_type")
            if case .bool(true)? = data["content_available"] {
                media = "/console/cases/\(caseID)/messages/\(m.id)/content"
            }
        case "follow", "unfollow": body = t.text("kind_\(m.kind)", lang)
        default: if body.isEmpty { body = m.kind }
        }
        if m.retracted, m.text == nil, m.kind == "text" { body = "" }
        var values: [String: Any] = [
            "id": m.id.description, "seq": String(m.seq), "direction": m.direction,
            "direction_name": t.text("direction_\(m.direction)", lang),
            "author": m.author, "time": Times.format(m.sentAt, timeZone: zone), "text": body,
            "is_image": m.kind == "image" && media != nil, "retracted": m.retracted,
        ]
        // Mustache shows an optional held in `Any` as "nil": only values that exist go in.
        if let media { values["media"] = media }
        if let delivery = m.delivery {
            values["delivery"] = t.text("delivery_\(delivery)", lang)
            values["delivery_state"] = delivery
        }
        return values
    }
}
