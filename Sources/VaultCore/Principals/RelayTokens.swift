import Foundation
import GRDB
import VaultCrypto

/// An authenticated relay: write-only, limited to its desks.
public struct RelayPrincipal: Sendable {
    public let tokenID: ID
    public let name: String
    public let deskIDs: Set<ID>

    func caller(requestID: String) -> Caller { Caller(actor: name, role: "relay", requestID: requestID) }
}

extension Vault {
    /// Issues a relay token for one or more desks; the token is returned once and stored only as a hash.
    /// - Throws: `.conflict` for a name used before (names are never reused), `.notFound` for an unknown desk.
    public func issueRelayToken(name: String, desks: [String], caller: Caller) async throws -> String {
        guard Names.isValid(name) else { throw VaultError.invalid("token name must be \(Names.rule)") }
        guard !desks.isEmpty else { throw VaultError.invalid("a relay token needs at least one --desk") }
        let token = "cvr_" + Base64URL.encode(SecureRandom.bytes(32))
        let id = ID.v4()
        try await database.transaction { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM relay_tokens WHERE name = ?", arguments: [name]) ?? false {
                throw VaultError.conflict("token name \(name) was used before; names are never reused")
            }
            try db.execute(
                sql: "INSERT INTO relay_tokens (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                arguments: [Data(id.bytes), name, Data(Hashing.blake2b(Array(token.utf8))), self.now()])
            for d in Set(desks) {
                guard let desk = try self.desk(db, name: d) else { throw VaultError.notFound("no desk \(d)") }
                try db.execute(
                    sql: "INSERT INTO relay_token_desks (token_id, desk_id) VALUES (?, ?)",
                    arguments: [Data(id.bytes), Data(desk.id.bytes)])
            }
            try self.authenticateNewRow(db, .relayToken, table: "relay_tokens", key: ("id", Data(id.bytes)))
            try self.record(db, caller, "token.issue", "token:\(name)")
        }
        return token
    }

    /// The relay behind a bearer token, or nil (unknown or revoked). Looked up by hash, compared in constant time;
    /// remembered for 5 s (every relay write re-checks revocation in its own transaction).
    public func authenticateRelay(_ token: String) async throws -> RelayPrincipal? {
        guard token.hasPrefix("cvr_"), token.utf8.count < 200 else { return nil }
        let hash = Hashing.blake2b(Array(token.utf8))
        if let known = relayTokens.get(hash, now: now()) { return known }
        let found: RelayPrincipal? = try await database.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM relay_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                    arguments: [Data(hash)]),
                SecretBytes.constantTimeEquals(Array(row["token_hash"] as Data), hash),
                let id = ID(bytes: Array(row["id"] as Data))
            else { return nil }
            // An un-revoked token or a widened desk scope does not carry the token's MAC.
            try self.stateMAC.check(
                .relayToken, try Self.relayTokenFields(db, row), (row["state_mac"] as Data?).map { Array($0) })
            let desks = try Data.fetchAll(
                db, sql: "SELECT desk_id FROM relay_token_desks WHERE token_id = ?", arguments: [Data(id.bytes)]
            ).compactMap { ID(bytes: Array($0)) }
            return RelayPrincipal(tokenID: id, name: row["name"], deskIDs: Set(desks))
        }
        if let found { relayTokens.put(hash, found, now: now()) }
        return found
    }
}
