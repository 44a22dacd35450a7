import Foundation
import GRDB
import VaultCrypto

/// Routing: which case a channel user's message goes to. Cases are found by a pseudonymous routing id (a keyed hash
/// of desk and channel user id, FORMAT.md §7); the real id is only stored sealed.
extension Vault {
    /// The pseudonymous routing id of a channel user on a desk (schema/FORMAT.md §7).
    func routingID(desk: ID, channelUser: String) throws -> [UInt8] {
        try Hashing.keyedBlake2b(Canonical.encode([desk.bytes, Array(channelUser.utf8)]), key: keys.pseudonym)
    }

    /// The case a channel user's next message goes to, without changing anything: their open case, or the
    /// latest one closed within the reopen window.
    func findRoutedCase(_ db: Database, desk: DeskState, channelUser: String) throws -> CaseRow? {
        let routing = try routingID(desk: desk.id, channelUser: channelUser)
        // During a pseudonym rotation, a case not yet rehashed is found under the previous key.
        let rotating = try previousRoutingID(desk: desk.id, channelUser: channelUser)
        if rotating == nil {
            // The common case first, straight from the index (no sort): a user has at most one open case per desk,
            // as only routeCase opens or reopens one, and only when this lookup found none open.
            if let open = try openCase(db, deskID: desk.id, routing: routing) { return open }
        }
        return try latestCase(
            db, deskID: desk.id, routing: routing, or: rotating ?? routing,
            closedSince: now() - Int64(try reopenWindowDays(db, deskID: desk.id)) * 86_400_000)
    }

    /// The routing id under the previous pseudonym key, while a rotation is in progress.
    func previousRoutingID(desk: ID, channelUser: String) throws -> [UInt8]? {
        guard let key = keys.previousPseudonym else { return nil }
        return try Hashing.keyedBlake2b(Canonical.encode([desk.bytes, Array(channelUser.utf8)]), key: key)
    }

    /// The open case of this channel user on this desk; reopens one closed within the reopen window;
    /// otherwise opens a new case whose epoch 0 is sealed to the queue and oversight keys.
    /// `newCaseID` and `epoch0` fix the ids of a new case (known-answer tests only).
    func routeCase(
        _ db: Database, desk: DeskState, channelUser: String, newCaseID: ID? = nil, epoch0 fixedEpoch: BoxKeyPair? = nil
    ) throws -> CaseRow {
        if var c = try findRoutedCase(db, desk: desk, channelUser: channelUser) {
            var changed = false
            if keys.previousPseudonym != nil {
                // Moves the case to the current key as soon as its person writes again.
                c.routingID = try routingID(desk: desk.id, channelUser: channelUser)
                c.routingKey = VaultKeys.pseudonymKeyTag(keys.pseudonym)
                changed = true
            }
            if c.status == "closed" {
                c.status = "open"
                c.closedAt = nil
                changed = true
                try noteReopened(db, c)
            }
            if changed { try saveCaseState(db, c) }
            return c
        }
        let routing = try routingID(desk: desk.id, channelUser: channelUser)
        let caseID = newCaseID ?? ID.v7(milliseconds: now())
        let epoch0 = try fixedEpoch ?? BoxKeyPair.generate()
        let sealedUser = { (pk: [UInt8]) throws -> [UInt8] in
            try SealedBox.seal(
                Canonical.encode([
                    Array("consultvault/channel-user/v1".utf8), caseID.bytes, desk.id.bytes, Array(channelUser.utf8),
                ]), to: pk)
        }
        let now = now()
        let forOversight = try sealedUser(desk.manifest.oversightPublic)
        let forCase = try sealedUser(epoch0.publicKey)
        try insertCase(
            db, id: caseID, desk: desk, routing: routing, routingKey: VaultKeys.pseudonymKeyTag(keys.pseudonym),
            sealedForOversight: forOversight, sealedForCase: forCase, now: now)
        try createEpoch(db, caseID: caseID, deskID: desk.id, epoch: 0, pair: epoch0)
        guard let c = try findCase(db, id: caseID) else { throw VaultError.integrity("new case vanished") }
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.queuePublic)
        try storeEpochWrap(db, epoch0, case: c, to: desk.manifest.oversightPublic)
        return c
    }
}
