import Foundation
import GRDB

/// Role checks for the HTTP and console layers that record a refusal as a `denied` entry (DESIGN.md guarantee 5:
/// denials are logged), the way `requireAuditor` does for the access log's readers.
extension Vault {
    /// Returns the admin's caller, or records `action` on `target` as denied and throws 403.
    /// - Throws: `.forbidden` (recorded) for every role but admin.
    public func requireAdmin(_ user: UnlockedUser, _ action: String, _ target: String, requestID: String) async throws
        -> Caller
    {
        let caller = user.caller(requestID: requestID)
        guard user.role == .admin else {
            try await deny(caller, action, target, .forbidden("admin routes are for admins only"))
        }
        return caller
    }

    /// `requireSupervisor(of:_:)`, recording a refusal as a denied `action` on the desk.
    /// - Throws: `.forbidden` (recorded) unless `user` is a confirmed supervisor of the desk; `.notFound` (recorded
    ///   as denied too, so probing for desk names leaves a trace) for no such desk.
    public func requireSupervisor(of desk: String, _ user: UnlockedUser, action: String, requestID: String)
        async throws
    {
        do {
            try await requireSupervisor(of: desk, user)
        } catch let e as VaultError where e.code == .forbidden || e.code == .notFound {
            try await deny(user.caller(requestID: requestID), action, "desk:\(desk)", e)
        }
    }
}
