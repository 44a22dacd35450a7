import Foundation
import GRDB

/// Questions about a relay: it writes (messages, routes, attachments, delivery receipts) only to the desks its
/// token was issued for, and reads nothing back.
extension Vault {
    /// May this relay write to the desk? Checks first that the token is still live in this transaction (a revoked
    /// token never writes; `assertRelayLive` throws `.unauthenticated`).
    /// - Parameter deskName: for the refusal; nil says "the message's desk".
    func relayMayWrite(_ db: Database, _ relay: RelayPrincipal, deskID: ID, deskName: String?) throws -> Decision {
        try assertRelayLive(db, relay)
        return relayCovers(relay, deskID: deskID, deskName: deskName)
    }

    /// Was this relay's token issued for the desk? (The token's desk scope is MAC'd: see `authenticateRelay`.)
    func relayCovers(_ relay: RelayPrincipal, deskID: ID, deskName: String?) -> Decision {
        .allowed(
            if: relay.deskIDs.contains(deskID),
            else: "this relay token is not issued for \(deskName.map { "desk \($0)" } ?? "the message's desk")")
    }

    /// Refuses a token revoked since it was authenticated (authentication is cached for a few seconds; this check
    /// runs in the write transaction itself, on the writer's cached pages).
    /// - Throws: `.unauthenticated`.
    func assertRelayLive(_ db: Database, _ relay: RelayPrincipal) throws {
        let memo = database.batchMemo
        if memo?.liveRelays.contains(relay.tokenID) == true { return }
        let live = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM relay_tokens WHERE id = ? AND revoked_at IS NULL"),
            arguments: [Data(relay.tokenID.bytes)])
        guard live == true else {
            throw VaultError(.unauthenticated, "the relay token was revoked; issue a new one")
        }
        memo?.liveRelays.insert(relay.tokenID)
    }
}
