import GRDB

/// Questions about disclosure packages (issue 20): two supervisors of the case's desk, one asking and another
/// deciding; only the requester downloads.
extension Vault {
    /// May `user` request a disclosure of this case? A confirmed supervisor of its desk (never a counselor, an
    /// auditor or an admin).
    func mayRequestDisclosure(_ db: Database, desk: DeskState, _ user: UnlockedUser) throws -> Decision {
        try maySupervise(db, desk: desk, user, else: "only a supervisor of the case's desk may request a disclosure")
    }

    /// May `user` approve or decline this disclosure? Another confirmed supervisor of the desk: the requester
    /// never approves their own request (two-person rule); they may withdraw it (decline).
    func mayDecideDisclosure(_ db: Database, desk: DeskState, requesterID: ID, approve: Bool, _ user: UnlockedUser)
        throws -> Decision
    {
        let supervises = try maySupervise(db, desk: desk, user, else: "only a supervisor of the desk decides")
        guard supervises == .allowed else { return supervises }
        return .allowed(
            if: !approve || requesterID != user.id, else: "the requester cannot approve their own disclosure")
    }

    /// May `user` download this package? Only its requester.
    func mayDownloadDisclosure(requesterID: ID, _ user: UnlockedUser) -> Decision {
        .allowed(if: requesterID == user.id, else: "only the requester downloads a disclosure package")
    }
}
