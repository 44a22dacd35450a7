import Foundation
import GRDB

extension Vault {
    /// Names of the desks whose verified manifests list `user`, by name (the console's desk switch and home).
    /// - Throws: storage errors.
    public func memberDeskNames(_ user: UnlockedUser) async throws -> [String] {
        try await database.read { db in
            try self.memberDeskIDs(db, user: user).compactMap { id in
                try String.fetchOne(db, sql: "SELECT name FROM desks WHERE id = ?", arguments: [Data(id.bytes)])
            }
        }
    }
}
