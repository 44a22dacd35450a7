import Foundation
import GRDB

/// Who belongs to a desk: only the desk's signed manifest says (the `desk_members` rows record invitations and
/// confirmations, but a database writer could forge them, so no decision reads them).
extension Vault {
    /// Whether a user is a confirmed member of the desk: listed in the desk's verified manifest under their name and
    /// role with their attested keys, and active. The `desk_members` rows are not consulted (a database writer could
    /// forge them); only the signed manifest says who belongs.
    func isConfirmedMember(_ db: Database, deskID: ID, userID: ID) throws -> Bool {
        guard let user = try self.findUser(db, id: userID), user.state == "active" else { return false }
        return try manifestMember(db, desk: desk(db, id: deskID), user: user) != nil
    }

    /// The manifest entry of an active user whose attested keys it lists, or nil.
    func manifestMember(_ db: Database, desk: DeskState, user: UserRecord) throws -> DeskManifest.Member? {
        guard user.state == "active", let m = desk.manifest.member(user.username), m.role == user.role,
            let keys = try? verifiedKeys(user), keys.boxPublic == m.boxPublic, keys.signPublic == m.signPublic
        else { return nil }
        return m
    }

    /// Ids of the desks whose verified manifests list `user` (for listings).
    func memberDeskIDs(_ db: Database, user: UnlockedUser) throws -> [ID] {
        var out: [ID] = []
        for raw in try Data.fetchAll(db, sql: "SELECT id FROM desks ORDER BY name") {
            guard let id = ID(bytes: Array(raw)), let desk = try? desk(db, id: id),
                let m = desk.manifest.member(user.username), m.role == user.role,
                m.signPublic == user.keys.signPublic
            else { continue }
            out.append(id)
        }
        return out
    }
}
