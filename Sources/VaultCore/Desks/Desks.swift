import Foundation
import GRDB
import VaultCrypto

/// A desk row plus its verified current manifest.
struct DeskState: Sendable {
    var id: ID
    var name: String
    var retentionDays: Int
    var manifest: DeskManifest
    /// Whether a supervisor of the desk vouched for its recovery key (`desk accept`): only then are desk secrets
    /// sealed to it.
    var recoveryVouched: Bool

    var queueKeyID: [UInt8] { Hashing.keyID(manifest.queuePublic) }
    var oversightKeyID: [UInt8] { Hashing.keyID(manifest.oversightPublic) }
}

extension Vault {
    /// Loads a desk by name and verifies its manifest chain; nil when no such desk.
    func desk(_ db: Database, name: String) throws -> DeskState? {
        guard
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM desks WHERE name = ?"), arguments: [name])
        else {
            return nil
        }
        return try deskState(db, row: row)
    }

    func desk(_ db: Database, id: ID) throws -> DeskState {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM desks WHERE id = ?"), arguments: [Data(id.bytes)])
        else {
            throw VaultError.integrity("a case refers to a missing desk")
        }
        return try deskState(db, row: row)
    }

    private func deskState(_ db: Database, row: Row) throws -> DeskState {
        guard let id = ID(bytes: Array(row["id"] as Data)) else {
            throw VaultError.integrity("a desk row is malformed")
        }
        try checkAuthenticated(.desk, row, fields: Self.deskFields)
        let version = try manifestHead(db, deskID: id, pointer: row["manifest_version"])
        let manifest = try verifiedManifest(db, deskID: id, version: version)
        guard manifest.name == row["name"] as String else {
            throw VaultError.integrity("desk \(row["name"] as String) does not match its signed manifest")
        }
        return DeskState(
            id: id, name: row["name"], retentionDays: row["retention_days"], manifest: manifest,
            recoveryVouched: (row["recovery_vouched_by"] as String?) != nil)
    }

    /// Proposes a member; they read nothing until a supervisor confirms.
    public func invite(desk name: String, username: String, caller: Caller) async throws {
        try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            guard let user = try self.findUser(db, username: username) else {
                throw VaultError.notFound("no user \(username)")
            }
            guard user.role == .counselor || user.role == .supervisor else {
                throw VaultError.invalid(
                    "only counselors and supervisors can be desk members; \(username) is \(user.role.rawValue)")
            }
            guard user.state != "disabled" else { throw VaultError.conflict("\(username) is disabled") }
            let exists =
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM desk_members WHERE desk_id = ? AND user_id = ?",
                    arguments: [Data(desk.id.bytes), Data(user.id.bytes)]) ?? false
            guard !exists else { throw VaultError.conflict("\(username) is already invited to or a member of \(name)") }
            try db.execute(
                sql: "INSERT INTO desk_members (desk_id, user_id, state, invited_at) VALUES (?, ?, 'invited', ?)",
                arguments: [Data(desk.id.bytes), Data(user.id.bytes), self.now()])
            try self.record(db, caller, "member.invite", "desk:\(name) user:\(username)")
        }
    }

    /// Supervisor `supervisor` (unlocked) seals the desk key(s) to invited member `username`, only when
    /// `fingerprint` matches the member's attested keys; writes a manifest version signed by the supervisor.
    /// - Throws: `.conflict` on a fingerprint mismatch (recorded, nothing sealed); `.forbidden` for a non-supervisor.
    public func confirm(
        desk name: String, username: String, fingerprint: String, supervisor: UnlockedUser, requestID: String
    ) async throws {
        let caller = supervisor.caller(requestID: requestID)
        let target = "desk:\(name) user:\(username)"
        let outcome: Result<Void, VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            if case .denied(let e) = try self.maySupervise(
                db, desk: desk, supervisor, else: "only a confirmed supervisor of \(name) can confirm members")
            {
                return try self.refuse(db, caller, "member.confirm", target, e)
            }
            guard let user = try self.findUser(db, username: username),
                let state = try String.fetchOne(
                    db, sql: "SELECT state FROM desk_members WHERE desk_id = ? AND user_id = ?",
                    arguments: [Data(desk.id.bytes), Data(user.id.bytes)])
            else { throw VaultError.notFound("\(username) has not been invited to \(name); run `desk invite` first") }
            guard state == "invited" else {
                throw VaultError.conflict("\(username) is already a confirmed member of \(name)")
            }
            let keys = try self.verifiedKeys(user)
            guard UserKeys.normalize(fingerprint) == UserKeys.normalize(keys.fingerprint) else {
                return try self.refuse(
                    db, caller, "member.confirm", target,
                    .conflict(
                        "the fingerprint does not match \(username)'s keys; nothing was sealed. Compare it with them in person"
                    ))
            }
            let queue = try self.openDeskKey(db, desk: desk, kind: .deskQueue, as: supervisor)
            try self.storeWrap(
                db, secret: queue.secretKey, label: .deskQueue, scope: desk.id.bytes, keyID: queue.keyID,
                recipient: keys.boxPublic)
            if user.role == .supervisor {
                let oversight = try self.openDeskKey(db, desk: desk, kind: .deskOversight, as: supervisor)
                try self.storeWrap(
                    db, secret: oversight.secretKey, label: .deskOversight, scope: desk.id.bytes,
                    keyID: oversight.keyID,
                    recipient: keys.boxPublic)
            }
            var manifest = desk.manifest
            manifest.version += 1
            manifest.members.append(
                .init(username: username, role: user.role, boxPublic: keys.boxPublic, signPublic: keys.signPublic))
            try self.storeManifest(db, manifest, signer: supervisor.username, signing: supervisor.signing)
            try db.execute(
                sql:
                    "UPDATE desk_members SET state = 'confirmed', confirmed_at = ?, confirmed_by = ? WHERE desk_id = ? AND user_id = ?",
                arguments: [self.now(), supervisor.username, Data(desk.id.bytes), Data(user.id.bytes)])
            try self.record(db, caller, "member.confirm", target)
            return .success(())
        }
        try outcome.get()
    }

    /// Names of the desks, for listings.
    public func deskNames() async throws -> [String] {
        try await database.read { db in try String.fetchAll(db, sql: "SELECT name FROM desks ORDER BY name") }
    }

    /// A desk's members with state and fingerprint.
    public func members(desk name: String) async throws -> [(
        username: String, role: Role, state: String, fingerprint: String?
    )] {
        try await database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT u.username, u.role, m.state, u.box_public, u.sign_public FROM desk_members m
                    JOIN users u ON u.id = m.user_id JOIN desks d ON d.id = m.desk_id WHERE d.name = ? ORDER BY u.username
                    """, arguments: [name]
            ).map { row in
                let box = (row["box_public"] as Data?).map { Array($0) }
                let sign = (row["sign_public"] as Data?).map { Array($0) }
                let fp = box.flatMap { b in sign.map { UserKeys.fingerprint(boxPublic: b, signPublic: $0) } }
                return (row["username"], Role(rawValue: row["role"]) ?? .counselor, row["state"], fp)
            }
        }
    }
}
