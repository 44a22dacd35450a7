import Foundation
import GRDB
import VaultCrypto

/// The owner of the `cases` table: the row type and every statement that writes a case or looks one up for an
/// action (listings read it in CaseListing.swift, purges select what is due in Retention.swift; the message
/// counters move with the messages, in MessageStore).
///
/// A case row: metadata, and the state that decides who is sealed its keys (desk, routing, status, hold, assignee,
/// current epoch, closed time, the sealed channel user), which is authenticated by `state_mac` (StateMAC).
struct CaseRow: Sendable {
    var id: ID
    var deskID: ID
    var status: String
    var risk: String
    var assigneeID: ID?
    var currentEpoch: Int
    var messageCount: Int
    var routingID: [UInt8]
    var routingKey: [UInt8]?
    var hold: Bool
    var openedAt: Int64
    var closedAt: Int64?
    /// BLAKE2b-256 of the two sealed channel-user blobs, so a re-sealed channel user does not pass the MAC.
    var channelUserDigest: [UInt8]
    var stateMAC: [UInt8]?

    /// The columns `init(selected:)` decodes, in its order (for the write path's `SELECT`s).
    static let selection = """
        id, desk_id, status, risk, assignee_id, current_epoch, message_count, routing_id, routing_key, hold, opened_at, \
        closed_at, channel_user_oversight, channel_user_case, state_mac
        """

    /// Decodes a row of `SELECT \(selection)` by position (no per-column name lookup), without checking its MAC
    /// (listings only show metadata; every action goes through `init(selected:mac:)`).
    init(selected row: Row) throws {
        guard let id = ID(bytes: Array(row[0] as Data)), let desk = ID(bytes: Array(row[1] as Data)) else {
            throw VaultError.integrity("a case row is malformed")
        }
        self.id = id
        self.deskID = desk
        self.status = row[2]
        self.risk = row[3]
        self.assigneeID = (row[4] as Data?).flatMap { ID(bytes: Array($0)) }
        self.currentEpoch = row[5]
        self.messageCount = row[6]
        self.routingID = Array(row[7] as Data)
        self.routingKey = (row[8] as Data?).map { Array($0) }
        self.hold = (row[9] as Int) != 0
        self.openedAt = row[10]
        self.closedAt = row[11]
        self.channelUserDigest = Self.digest(oversight: Array(row[12] as Data), case: Array(row[13] as Data))
        self.stateMAC = (row[14] as Data?).map { Array($0) }
    }

    /// Decodes a `SELECT c.*` row by column name, without checking its MAC (listings only).
    init(row: Row) throws {
        guard let id = ID(bytes: Array(row["id"] as Data)), let desk = ID(bytes: Array(row["desk_id"] as Data)) else {
            throw VaultError.integrity("a case row is malformed")
        }
        self.id = id
        self.deskID = desk
        self.status = row["status"]
        self.risk = row["risk"]
        self.assigneeID = (row["assignee_id"] as Data?).flatMap { ID(bytes: Array($0)) }
        self.currentEpoch = row["current_epoch"]
        self.messageCount = row["message_count"]
        self.routingID = Array(row["routing_id"] as Data)
        self.routingKey = (row["routing_key"] as Data?).map { Array($0) }
        self.hold = (row["hold"] as Int) != 0
        self.openedAt = row["opened_at"]
        self.closedAt = row["closed_at"]
        self.channelUserDigest = Self.digest(
            oversight: Array(row["channel_user_oversight"] as Data), case: Array(row["channel_user_case"] as Data))
        self.stateMAC = (row["state_mac"] as Data?).map { Array($0) }
    }

    /// Decodes and authenticates a row of `SELECT \(selection)`.
    /// - Throws: `VaultError.integrity` when the row's MAC does not match.
    init(selected row: Row, mac: StateMAC) throws {
        try self.init(selected: row)
        try mac.check(.caseState, macFields, stateMAC)
    }

    static func digest(oversight: [UInt8], case sealed: [UInt8]) -> [UInt8] {
        Hashing.blake2b(parts: [Canonical.encode([oversight, sealed])])
    }

    /// The authenticated fields, in FORMAT.md §18's order.
    var macFields: [[UInt8]] {
        Self.macFields(
            id: id, deskID: deskID, routingID: routingID, routingKey: routingKey, status: status, hold: hold,
            assigneeID: assigneeID, currentEpoch: currentEpoch, openedAt: openedAt, closedAt: closedAt,
            channelUserDigest: channelUserDigest)
    }

    static func macFields(
        id: ID, deskID: ID, routingID: [UInt8], routingKey: [UInt8]?, status: String, hold: Bool, assigneeID: ID?,
        currentEpoch: Int, openedAt: Int64, closedAt: Int64?, channelUserDigest: [UInt8]
    ) -> [[UInt8]] {
        [
            id.bytes, deskID.bytes, routingID, routingKey ?? [], Array(status.utf8), StateField.flag(hold),
            StateField.id(assigneeID), StateField.int(currentEpoch), StateField.int(openedAt),
            StateField.int(closedAt), channelUserDigest,
        ]
    }

    /// Loads and authenticates a case.
    /// - Throws: `VaultError.integrity` when its MAC does not match.
    static func find(_ db: Database, id: ID, mac: StateMAC) throws -> CaseRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(selection) FROM cases WHERE id = ?"), arguments: [Data(id.bytes)]
        ).map { try CaseRow(selected: $0, mac: mac) }
    }
}

extension Vault {
    /// Loads and authenticates a case (nil when there is none).
    /// - Throws: `VaultError.integrity` when its MAC does not match.
    func findCase(_ db: Database, id: ID) throws -> CaseRow? { try CaseRow.find(db, id: id, mac: stateMAC) }

    /// Writes a case's authenticated state (status, hold, assignee, epoch, closed time, routing) with a fresh MAC.
    /// The only writer of those columns: callers change a `CaseRow` they loaded through `findCase`.
    func saveCaseState(_ db: Database, _ c: CaseRow) throws {
        try db.cachedStatement(
            sql: """
                UPDATE cases SET status = ?, hold = ?, assignee_id = ?, current_epoch = ?, closed_at = ?, routing_id = ?,
                    routing_key = ?, state_mac = ? WHERE id = ?
                """
        ).execute(arguments: [
            c.status, c.hold, c.assigneeID.map { Data($0.bytes) }, c.currentEpoch, c.closedAt, Data(c.routingID),
            c.routingKey.map { Data($0) }, Data(stateMAC.tag(.caseState, c.macFields)), Data(c.id.bytes),
        ])
    }

    /// Inserts a new open case with its authenticated state; its epoch 0 is the caller's to create.
    func insertCase(
        _ db: Database, id: ID, desk: DeskState, routing: [UInt8], routingKey: [UInt8], sealedForOversight: [UInt8],
        sealedForCase: [UInt8], now: Int64
    ) throws {
        let state = CaseRow.macFields(
            id: id, deskID: desk.id, routingID: routing, routingKey: routingKey, status: "open", hold: false,
            assigneeID: nil, currentEpoch: 0, openedAt: now, closedAt: nil,
            channelUserDigest: CaseRow.digest(oversight: sealedForOversight, case: sealedForCase))
        try db.execute(
            sql: """
                INSERT INTO cases (id, desk_id, routing_id, status, opened_at, last_message_at, channel_user_oversight,
                    channel_user_case, routing_key, state_mac) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(id.bytes), Data(desk.id.bytes), Data(routing), now, now, Data(sealedForOversight),
                Data(sealedForCase), Data(routingKey), Data(stateMAC.tag(.caseState, state)),
            ])
    }

    /// Sets a case's risk level (metadata outside the authenticated state).
    func setRisk(_ db: Database, case caseID: ID, _ risk: String) throws {
        try db.execute(sql: "UPDATE cases SET risk = ? WHERE id = ?", arguments: [risk, Data(caseID.bytes)])
    }

    /// The open case of a routing id on a desk (a person has at most one), straight from the index.
    func openCase(_ db: Database, deskID: ID, routing: [UInt8]) throws -> CaseRow? {
        let statement = try db.cachedStatement(
            sql: """
                SELECT \(CaseRow.selection) FROM cases WHERE desk_id = ? AND routing_id = ? AND status = 'open'
                LIMIT 1
                """)
        return try Row.fetchOne(statement, arguments: [Data(deskID.bytes), Data(routing)]).map {
            try CaseRow(selected: $0, mac: stateMAC)
        }
    }

    /// The open case under either routing id, else the latest closed at or after `closedSince`.
    func latestCase(_ db: Database, deskID: ID, routing: [UInt8], or previous: [UInt8], closedSince: Int64) throws
        -> CaseRow?
    {
        let statement = try db.cachedStatement(
            sql: """
                SELECT \(CaseRow.selection) FROM cases
                WHERE desk_id = ? AND routing_id IN (?, ?) AND (status = 'open' OR closed_at >= ?)
                ORDER BY status = 'open' DESC, opened_at DESC LIMIT 1
                """)
        return try Row.fetchOne(
            statement, arguments: [Data(deskID.bytes), Data(routing), Data(previous), closedSince]
        ).map { try CaseRow(selected: $0, mac: stateMAC) }
    }

    /// Every open case of a desk, authenticated.
    func openCases(_ db: Database, deskID: ID) throws -> [CaseRow] {
        try Row.fetchAll(
            db, sql: "SELECT \(CaseRow.selection) FROM cases WHERE desk_id = ? AND status = 'open'",
            arguments: [Data(deskID.bytes)]
        ).map { try CaseRow(selected: $0, mac: stateMAC) }
    }

    /// Cases stored before pseudonym keys were tagged (no `routing_key`), authenticated.
    func casesWithoutRoutingKey(_ db: Database) throws -> [CaseRow] {
        try Row.fetchAll(db, sql: "SELECT \(CaseRow.selection) FROM cases WHERE routing_key IS NULL").map {
            try CaseRow(selected: $0, mac: stateMAC)
        }
    }

    /// The cases of a desk not yet routed under the pseudonym key with tag `tag`, with their channel user id
    /// sealed to the desk's oversight key.
    func casesNotUnder(_ db: Database, tag: [UInt8], deskID: ID) throws -> [(id: ID, sealedForOversight: [UInt8])] {
        try Row.fetchAll(
            db,
            sql:
                "SELECT id, channel_user_oversight FROM cases WHERE desk_id = ? AND (routing_key IS NULL OR routing_key != ?)",
            arguments: [Data(deskID.bytes), Data(tag)]
        ).compactMap { row in
            ID(bytes: Array(row["id"] as Data)).map { ($0, Array(row["channel_user_oversight"] as Data)) }
        }
    }

    /// Names of the desks that still have a case not routed under the pseudonym key with tag `tag`.
    func desksWithCasesNotUnder(_ db: Database, tag: [UInt8]) throws -> [String] {
        try String.fetchAll(
            db,
            sql: """
                SELECT DISTINCT d.name FROM cases c JOIN desks d ON d.id = c.desk_id
                WHERE c.routing_key IS NULL OR c.routing_key != ? ORDER BY d.name
                """, arguments: [Data(tag)])
    }

    /// The channel user id of a case sealed to its epoch 0 (FORMAT.md §7).
    func channelUserSealedForCase(_ db: Database, case caseID: ID) throws -> [UInt8]? {
        try Data.fetchOne(db, sql: "SELECT channel_user_case FROM cases WHERE id = ?", arguments: [Data(caseID.bytes)])
            .map { Array($0) }
    }

    /// Whether a case row exists (whatever its state says).
    func caseExists(_ db: Database, id: ID) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM cases WHERE id = ?", arguments: [Data(id.bytes)]) == true
    }

    /// Deletes a case row (its children must have gone first: see `shredCase`).
    static func deleteCaseRow(_ db: Database, id: ID) throws {
        try db.execute(sql: "DELETE FROM cases WHERE id = ?", arguments: [Data(id.bytes)])
    }
}
