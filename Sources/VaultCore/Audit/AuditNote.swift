import Foundation
import VaultCrypto

/// The text of a checkpoint, restore marker or purge note (FORMAT.md §6.3–6.5):
/// `<origin>\n<seq>\n<base64 hash_seq>\ntime <Unix ms>\n`, then `restore\n` for a restore marker or one
/// `purge case:<uuid>\n` line per purged case for a purge note.
public struct AuditNote: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case checkpoint, restore, purge }

    public let kind: Kind
    public let origin: String
    public let seq: Int64
    public let hash: [UInt8]
    public let time: Int64
    public let purgedCases: [String]

    public init(kind: Kind, origin: String, seq: Int64, hash: [UInt8], time: Int64, purgedCases: [String] = []) {
        self.kind = kind
        self.origin = origin
        self.seq = seq
        self.hash = hash
        self.time = time
        self.purgedCases = purgedCases
    }

    public var text: String {
        var t = "\(origin)\n\(seq)\n\(Data(hash).base64EncodedString())\ntime \(time)\n"
        switch kind {
        case .checkpoint: break
        case .restore: t += "restore\n"
        case .purge: t += purgedCases.map { "purge \($0)\n" }.joined()
        }
        return t
    }

    /// Parses a note text and checks its layout.
    /// - Throws: `VaultError.invalidRequest` naming the bad line.
    public init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw VaultError.invalid("note text must end with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 4, !lines[0].isEmpty else { throw VaultError.invalid("note text has fewer than 4 lines") }
        guard let seq = Int64(lines[1]), seq >= 0, String(seq) == lines[1] else {
            throw VaultError.invalid("note line 2 is not a decimal seq")
        }
        guard let hash = Data(base64Encoded: lines[2]), hash.count == 32 else {
            throw VaultError.invalid("note line 3 is not a base64 32-byte hash")
        }
        guard lines[3].hasPrefix("time "), let time = Int64(lines[3].dropFirst(5)), time >= 0 else {
            throw VaultError.invalid("note line 4 is not `time <Unix ms>`")
        }
        let extra = lines.dropFirst(4)
        var kind = Kind.checkpoint
        var purged: [String] = []
        if extra == ["restore"] {
            kind = .restore
        } else if !extra.isEmpty {
            for l in extra {
                guard l.hasPrefix("purge case:"), ID(String(l.dropFirst(11))) != nil else {
                    throw VaultError.invalid("unknown note line `\(l.prefix(40))`")
                }
                purged.append(String(l.dropFirst(6)))
            }
            kind = .purge
        }
        self.init(kind: kind, origin: lines[0], seq: seq, hash: Array(hash), time: time, purgedCases: purged)
        guard self.text == text else { throw VaultError.invalid("note text is not in canonical form") }
    }
}
