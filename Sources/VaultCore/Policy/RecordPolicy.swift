import GRDB

/// Questions about case records and desk settings (taxonomy, templates): who reads the coded record of a case and
/// the desk's coding scheme. Writing a record is working the case (`mayWork`); changing the scheme is supervising
/// the desk (`maySupervise`).
extension Vault {
    /// May `user` read the desk's coded records and taxonomy? Its confirmed counselors and supervisors, without
    /// break-glass: a record holds coarse codes only, no text and no identifier (THREAT-MODEL.md). Auditors and
    /// admins read neither.
    func mayReadDeskRecords(_ db: Database, deskID: ID, _ user: UnlockedUser) throws -> Decision {
        .allowed(
            if: try (user.role == .counselor || user.role == .supervisor)
                && isConfirmedMember(db, deskID: deskID, userID: user.id),
            else: "only confirmed counselors and supervisors of the desk read its case records")
    }
}

extension Vault {
    /// Records a relay token's call of a staff route (records, taxonomy, desk settings) as denied, and throws 403:
    /// the relay is write-only, and its attempts to read are logged like any other denial.
    public func denyRelay(_ relay: RelayPrincipal, action: String, target: String, requestID: String) async throws
        -> Never
    {
        try await deny(
            relay.caller(requestID: requestID), action, target,
            .forbidden("relay tokens cannot use staff routes; the relay is write-only"))
    }
}
