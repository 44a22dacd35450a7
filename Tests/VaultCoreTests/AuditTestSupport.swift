import Foundation
import GRDB
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// Helpers shared by the audit tests: entries appended through Core, exports as lines, offline verification.
enum AuditTestSupport {
    /// Appends `count` entries (a transcript-read-like action) through Core.
    static func append(_ f: Fixture, _ count: Int, action: String = "transcript.read") async throws {
        let caller = Caller(actor: "cou1", role: "counselor", requestID: ID.v4().description)
        try await f.vault.database.transaction { db in
            for i in 0..<count { try f.vault.record(db, caller, action, "case:\(ID.v4()) #\(i)") }
        }
    }

    /// Appends a break-glass start with a sealed reason (the workflow adds the real route); returns its seq.
    @discardableResult
    static func breakGlass(_ f: Fixture, reason: String, actor: String = "sup") async throws -> Int64 {
        let caller = Caller(actor: actor, role: "supervisor", requestID: ID.v4().description)
        return try await f.vault.database.transaction { db in
            let desk = try f.vault.desk(db, name: "ijime")
            try f.vault.record(db, caller, "breakglass.start", "case:\(ID.v4())", reason: reason, desk: desk)
            try f.vault.checkpoint(db)
            return try Int64.fetchOne(db, sql: "SELECT max(seq) FROM access_log") ?? 0
        }
    }

    /// The export as lines (without newlines).
    static func exportLines(_ vault: Vault) async throws -> [String] {
        var bytes: [UInt8] = []
        try await vault.writeAuditExport { bytes.append(contentsOf: $0) }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func verifiers(_ vault: Vault) -> [NoteVerifier] {
        [NoteVerifier(name: vault.keys.noteName, publicKey: vault.keys.signing.publicKey)]
    }

    /// Verifies export lines (and a checkpoint file) offline.
    static func verify(_ lines: [String], checkpointFile: [UInt8]? = nil, verifiers: [NoteVerifier]) -> Result<
        AuditVerificationSummary, AuditVerificationFailure
    > {
        let v = AuditVerifier(verifiers: verifiers)
        let bytes = Array(lines.joined(separator: "\n").utf8) + [0x0a]
        do {
            if let checkpointFile { try v.addCheckpointFile(checkpointFile, name: "audit-checkpoints.log") }
            try bytes.withUnsafeBufferPointer { try v.feedExport($0) }
            return .success(try v.finish())
        } catch let e as AuditVerificationFailure {
            return .failure(e)
        } catch {
            return .failure(AuditVerificationFailure(seq: nil, "unexpected \(error)"))
        }
    }

    static func json(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    }

    static func line(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
