import Foundation
import GRDB

extension Vault {
    /// Records a denial in its own transaction, then throws it.
    func deny(_ caller: Caller, _ action: String, _ target: String, _ error: VaultError) async throws -> Never {
        try await database.transaction { db in try self.record(db, caller, action, target, .denied) }
        throw error
    }
}
