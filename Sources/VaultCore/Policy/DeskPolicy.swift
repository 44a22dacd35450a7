import GRDB

/// Questions about a desk: who supervises it (confirms members, registers the relay key, accepts the desk,
/// approves retention, rehashes pseudonyms, decides access requests, breaks glass).
extension Vault {
    /// A confirmed supervisor of the desk: an active supervisor whose vault-attested keys the desk's signed manifest
    /// lists with the supervisor role, and whose unlocked signing key is that listed key.
    /// - Parameter message: what the refusal says (e.g. "only a confirmed supervisor of D approves retention").
    func maySupervise(_ db: Database, desk: DeskState, _ user: UnlockedUser, else message: @autoclosure () -> String)
        throws -> Decision
    {
        guard user.role == .supervisor, let listed = desk.manifest.member(user.username), listed.role == .supervisor,
            listed.signPublic == user.keys.signPublic,
            try isConfirmedMember(db, deskID: desk.id, userID: user.id)
        else { return .denied(.forbidden(message())) }
        return .allowed
    }
}
