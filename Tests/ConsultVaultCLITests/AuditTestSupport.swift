import Foundation
import GRDB
import VaultTestSupport

@testable import VaultCore

/// The one helper of VaultCoreTests' AuditTestSupport that the report test needs.
enum AuditTestSupport {
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
}
