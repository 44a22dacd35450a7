import GRDB

/// Questions about a case: who reads it (transcript, attachments), who works it (replies, status, notes),
/// who assigns it, who may ask to read it. Asked inside the transaction that then acts, so the answer and the
/// action see the same state.
extension Vault {
    /// May `user` read this case's content? A counselor of the desk: the desk queue, their own case, or a case an
    /// approved access request opened to them for now; a supervisor of the desk: their own case, or any case of
    /// the desk during a break-glass. Auditors and admins never read content.
    func mayRead(_ db: Database, case c: CaseRow, _ user: UnlockedUser) throws -> Decision {
        let member = try isConfirmedMember(db, deskID: c.deskID, userID: user.id)
        let allowed: Bool
        switch user.role {
        case .counselor:
            let mine = c.assigneeID == user.id || c.assigneeID == nil
            allowed = try member && (mine || hasLiveGrant(db, caseID: c.id, userID: user.id, kind: "request"))
        case .supervisor:
            let mine = c.assigneeID == user.id
            allowed = try member && (mine || hasLiveGrant(db, caseID: c.id, userID: user.id, kind: "breakglass"))
        case .auditor, .admin: allowed = false
        }
        if allowed { return .allowed }
        return .denied(
            .forbidden(
                user.role == .supervisor && member
                    ? "supervisors read a case not assigned to them only through break-glass"
                    : "you may not read this case"))
    }

    /// May `user` work this case (reply, change status, risk or hold)? Its assignee, or a confirmed supervisor of
    /// its desk.
    func mayWork(_ db: Database, case c: CaseRow, _ user: UnlockedUser) throws -> Decision {
        if c.assigneeID == user.id { return .allowed }
        return .allowed(
            if: try user.role == .supervisor && isConfirmedMember(db, deskID: c.deskID, userID: user.id),
            else: "only the assignee or a supervisor of the desk may do this")
    }

    /// May `user` assign this case to `assignee`? A confirmed supervisor of the desk assigns to any active
    /// counselor or supervisor the desk's signed manifest lists; a counselor only takes a queue case for themselves.
    /// - Returns: when allowed, the assignee and their manifest entry (the only key to seal the case to).
    func mayAssign(_ db: Database, case c: CaseRow, desk: DeskState, to assignee: String, _ user: UnlockedUser)
        throws -> Result<(user: UserRecord, listed: DeskManifest.Member), VaultError>
    {
        let actorIsMember = try isConfirmedMember(db, deskID: c.deskID, userID: user.id)
        let allowed: Bool
        switch user.role {
        case .supervisor: allowed = actorIsMember
        case .counselor: allowed = actorIsMember && c.assigneeID == nil && assignee == user.username
        case .auditor, .admin: allowed = false
        }
        guard allowed, let target = try self.findUser(db, username: assignee), target.state == "active",
            target.role == .counselor || target.role == .supervisor,
            let listed = try manifestMember(db, desk: desk, user: target)
        else {
            return .failure(
                .forbidden(
                    allowed
                        ? "\(assignee) is not a confirmed member of this desk"
                        : "only a supervisor of the desk assigns; a counselor may only take a queue case for themselves"
                ))
        }
        return .success((target, listed))
    }

    /// May `user` ask to read this case (an access request)? Counselors of the case's desk.
    func mayRequestAccess(_ db: Database, case c: CaseRow, _ user: UnlockedUser) throws -> Decision {
        .allowed(
            if: try user.role == .counselor && isConfirmedMember(db, deskID: c.deskID, userID: user.id),
            else: "only counselors of the case's desk may ask")
    }
}
