import Foundation
import VaultCrypto

extension AuditEntry {
    /// The entry as one export line (FORMAT.md §6.6): fixed key order, hashes in lowercase hex, the sealed
    /// reason in base64, absent optional fields as null.
    public var exportLine: [UInt8] {
        var j = JSONLine()
        j.string("type", "entry")
        j.int("seq", seq)
        j.int("time_ms", time)
        j.string("actor", actor)
        j.string("role", role)
        j.string("action", action)
        j.string("target", target)
        j.string("outcome", outcome.rawValue)
        j.string("request_id", requestID)
        if let h = envelopeHash { j.string("envelope_hash", h.hex) } else { j.null("envelope_hash") }
        if let r = reasonSealed {
            j.string("reason_sealed", Data(r).base64EncodedString())
        } else {
            j.null("reason_sealed")
        }
        j.string("hash", hash.hex)
        return j.finish()
    }
}

extension SignedNote {
    /// The note as one line of the export and of `audit-checkpoints.log`: `{"type": …, "note": …}`.
    public func line(kind: AuditNote.Kind) -> [UInt8] {
        var j = JSONLine()
        j.string("type", kind.rawValue)
        j.string("note", encoded)
        return j.finish()
    }
}
