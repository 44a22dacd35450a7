import Foundation
import GRDB

/// Questions about a role alone: who administers, who audits, who works cases. The `require…` forms are for the
/// HTTP and console layers and for Core's own entry points: they record a refusal as a `denied` entry (DESIGN.md
/// guarantee 5: denials are logged) and throw it.
extension Vault {
    /// Admins run accounts; they never read and never grant reading.
    func mayAdminister(_ user: UnlockedUser) -> Decision {
        .allowed(if: user.role == .admin, else: "admin routes are for admins only")
    }

    /// Auditors read the access log, never content.
    func mayAudit(_ user: UnlockedUser) -> Decision {
        .allowed(if: user.role == .auditor, else: "only auditors read the access log")
    }

    /// Counselors and supervisors list cases (their desks' cases, metadata only).
    func mayListCases(_ user: UnlockedUser) -> Decision {
        .allowed(
            if: user.role == .counselor || user.role == .supervisor, else: "only counselors and supervisors list cases")
    }

    /// Supervisors list the access requests of the desks they oversee.
    func mayListAccessRequests(_ user: UnlockedUser) -> Decision {
        .allowed(if: user.role == .supervisor, else: "only supervisors list access requests")
    }

    /// Returns the admin's caller, or records `action` on `target` as denied and throws 403.
    /// - Throws: `.forbidden` (recorded) for every role but admin.
    public func requireAdmin(_ user: UnlockedUser, _ action: String, _ target: String, requestID: String) async throws
        -> Caller
    {
        let caller = user.caller(requestID: requestID)
        try await enforce(mayAdminister(user), caller, action, target)
        return caller
    }

    /// Records a denied `action` and throws 403 unless `user` is an auditor.
    func requireAuditor(_ user: UnlockedUser, _ action: String, _ target: String, requestID: String) async throws {
        try await enforce(mayAudit(user), user.caller(requestID: requestID), action, target)
    }

    /// Records a denied `action` on the desk and throws unless `user` is a confirmed supervisor of it.
    /// - Throws: `.forbidden` (recorded); `.notFound` (recorded as denied too, so probing for desk names leaves a
    ///   trace) for no such desk.
    public func requireSupervisor(of desk: String, _ user: UnlockedUser, action: String, requestID: String)
        async throws
    {
        let decision: Decision = try await database.read { db in
            guard let found = try self.desk(db, name: desk) else { return .denied(.notFound("no desk \(desk)")) }
            return try self.maySupervise(
                db, desk: found, user, else: "only a confirmed supervisor of \(desk) may do this")
        }
        try await enforce(decision, user.caller(requestID: requestID), action, "desk:\(desk)")
    }
}
