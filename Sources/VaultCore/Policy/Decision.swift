import GRDB

/// The answer to one policy question (the `may…` functions of this folder): allowed, or denied with the error the
/// caller is told. Every authorization decision of the vault is asked here, so every refusal is recorded the same
/// way: inside the transaction that asked, `refuse` writes the `denied` entry and returns the failure, which the
/// caller throws once that transaction has committed (`Result.get()`); outside a transaction, `deny` does both.
enum Decision: Sendable, Equatable {
    case allowed
    case denied(VaultError)

    /// Allowed when `condition` holds, otherwise denied with `.forbidden(message)`.
    static func allowed(if condition: Bool, else message: @autoclosure () -> String) -> Decision {
        condition ? .allowed : .denied(.forbidden(message()))
    }
}

extension Vault {
    /// Records `action` on `target` as denied in `db` (the transaction that asked) and returns the failure that
    /// the caller throws after commit: `return try refuse(…)` inside, `try result.get()` outside.
    func refuse<T>(_ db: Database, _ caller: Caller, _ action: String, _ target: String, _ error: VaultError)
        throws -> Result<T, VaultError>
    {
        try record(db, caller, action, target, .denied)
        return .failure(error)
    }

    /// Records a denial in its own transaction, then throws it (for checks that need no other write).
    func deny(_ caller: Caller, _ action: String, _ target: String, _ error: VaultError) async throws -> Never {
        let refusal: Result<Never, VaultError> = try await database.transaction { db in
            try self.refuse(db, caller, action, target, error)
        }
        return try refusal.get()
    }

    /// Records a denial (in its own transaction) when `decision` denies, and throws it.
    func enforce(_ decision: Decision, _ caller: Caller, _ action: String, _ target: String) async throws {
        if case .denied(let error) = decision { try await deny(caller, action, target, error) }
    }
}
