import Foundation
import GRDB
import Logging
import Synchronization
import VaultCrypto

/// Authenticates the rows that decide who is sealed a key or allowed an action (schema/FORMAT.md §18): a case's
/// desk, routing, status, hold, assignee and epoch; a grant and its expiry; an access request's state; a desk's
/// retention; a break-glass review. Each such row carries `state_mac` = keyed BLAKE2b-256 under a key derived
/// from `keys/vault-box.key`, over the canonical bytes of a record label and the row's fields (its own id among
/// them, so a MAC cannot be moved to another row). A database writer without `keys/` can neither forge a row nor
/// edit one; the vault checks the MAC before it acts and refuses with `integrity_failure` on a mismatch.
final class StateMAC: Sendable {
    enum Record: String, Sendable {
        case caseState = "consultvault/state/case/v1"
        case grant = "consultvault/state/grant/v1"
        case accessRequest = "consultvault/state/access-request/v1"
        case desk = "consultvault/state/desk/v1"
        case review = "consultvault/state/review/v1"
        case relayToken = "consultvault/state/relay-token/v1"
        case user = "consultvault/state/user/v1"
    }

    private let key: SecretBytes
    private let failures = Mutex<Int>(0)
    private let onFailure = Mutex<(@Sendable (Record) -> Void)?>(nil)
    private let logger: Logger

    /// - Throws: `CryptoError` when the box key is unusable.
    init(boxKey: SecretBytes, logger: Logger) throws {
        let derived = try Hashing.keyedBlake2b(Array("consultvault/state-mac-key/v1".utf8), key: boxKey)
        var copy = derived
        key = try SecretBytes(copying: copy)
        SecretBytes.wipe(&copy)
        self.logger = logger
    }

    /// The MAC of a record's fields.
    func tag(_ record: Record, _ fields: [[UInt8]]) -> [UInt8] {
        // A 32-byte key is always a valid keyed-hash key: this cannot throw.
        (try? Hashing.keyedBlake2b(Canonical.encode([Array(record.rawValue.utf8)] + fields), key: key)) ?? []
    }

    /// Checks a stored MAC; counts, logs (record kind only) and throws on a mismatch or a missing MAC.
    /// - Throws: `VaultError.integrity`.
    func check(_ record: Record, _ fields: [[UInt8]], _ stored: [UInt8]?) throws {
        if let stored, stored.count == 32, SecretBytes.constantTimeEquals(tag(record, fields), stored) { return }
        failures.withLock { $0 += 1 }
        logger.error("integrity failure: a stored row does not carry its MAC", metadata: ["record": "\(record)"])
        onFailure.withLock { $0 }?(record)
        throw VaultError.integrity(
            "a stored \(record.noun) was changed outside the vault (its MAC does not match); refusing to act on it. "
                + "See ops/RUNBOOK.md, 'Integrity failures'")
    }

    /// How many MAC checks failed since the process started (for /readyz and /metrics).
    var failureCount: Int { failures.withLock { $0 } }

    /// Called after each failed check (the vault records it in the access log).
    func whenFailing(_ body: @escaping @Sendable (Record) -> Void) { onFailure.withLock { $0 = body } }
}

extension StateMAC.Record {
    var noun: String {
        switch self {
        case .caseState: "case"
        case .grant: "grant"
        case .accessRequest: "access request"
        case .desk: "desk setting"
        case .review: "review"
        case .relayToken: "relay token"
        case .user: "user account"
        }
    }
}

/// Canonical field encodings shared by the MAC'd records.
enum StateField {
    static func id(_ id: ID?) -> [UInt8] { id?.bytes ?? [] }
    static func text(_ s: String?) -> [UInt8] { s.map { Array($0.utf8) } ?? [] }
    static func int(_ v: Int64?) -> [UInt8] { v.map { Canonical.u64($0) } ?? [] }
    static func int(_ v: Int?) -> [UInt8] { v.map { Canonical.u64(Int64($0)) } ?? [] }
    static func flag(_ b: Bool) -> [UInt8] { [b ? 1 : 0] }
}

extension Vault {
    /// How many authenticated rows failed their MAC check since start (`/readyz`, `/metrics`).
    public var integrityFailureCount: Int { stateMAC.failureCount }

    /// Records a failed MAC check in the access log (outcome `error`), in its own transaction: the transaction that
    /// found it rolls back, and the record must survive that.
    func recordIntegrityFailure(_ record: StateMAC.Record) {
        Task {
            do {
                try await database.transaction { db in
                    try self.record(db, Self.systemCaller, "integrity.failure", "record:\(record.noun)", .error)
                }
            } catch {
                logger.error("could not record an integrity failure in the access log")
            }
        }
    }
}

/// The field layouts of the MAC'd rows other than cases (`CaseRow.macFields`), in FORMAT.md §18's order.
extension Vault {
    static func deskFields(_ row: Row) -> [[UInt8]] {
        [
            Array(row["id"] as Data), StateField.text(row["name"]), Array(row["recovery_public"] as Data),
            StateField.int(row["retention_days"] as Int64), StateField.int(row["pending_retention_days"] as Int64?),
            StateField.text(row["unsend_policy"]), StateField.text(row["recovery_vouched_by"]),
        ]
    }

    static func accessRequestFields(_ row: Row) -> [[UInt8]] {
        [
            Array(row["id"] as Data), Array(row["case_id"] as Data), Array(row["desk_id"] as Data),
            Array(row["requester_id"] as Data), StateField.text(row["state"]),
            StateField.int(row["created_at"] as Int64),
            StateField.text(row["decided_by"]), StateField.int(row["decided_at"] as Int64?),
        ]
    }

    /// A relay token and its desk scope (the sorted desk ids of `relay_token_desks`), so neither a revocation nor
    /// the scope can be changed outside the vault.
    static func relayTokenFields(_ db: Database, _ row: Row) throws -> [[UInt8]] {
        let desks = try Data.fetchAll(
            db.cachedStatement(sql: "SELECT desk_id FROM relay_token_desks WHERE token_id = ? ORDER BY desk_id"),
            arguments: [row["id"] as Data]
        ).map { Array($0) }
        return [
            Array(row["id"] as Data), StateField.text(row["name"]), Array(row["token_hash"] as Data),
            StateField.int(row["created_at"] as Int64), StateField.int(row["revoked_at"] as Int64?),
            Canonical.encode(desks),
        ]
    }

    /// A user account's identity, role and lifecycle (pending with an enrollment code, active, disabled), so a
    /// database writer can neither re-enable an account, reset one to `pending` with a code of their choosing, nor
    /// add one. (Its public keys carry the vault's attestation instead.)
    static func userFields(_ row: Row) -> [[UInt8]] {
        [
            Array(row["id"] as Data), StateField.text(row["username"]), StateField.text(row["role"]),
            StateField.text(row["state"]), (row["enroll_code_hash"] as Data?).map { Array($0) } ?? [],
            StateField.int(row["enroll_expires_at"] as Int64?),
        ]
    }

    static func reviewFields(_ row: Row) -> [[UInt8]] {
        [
            StateField.int(row["breakglass_seq"] as Int64), StateField.int(row["review_seq"] as Int64),
            StateField.text(row["reviewer"]), StateField.int(row["reviewed_at"] as Int64),
        ]
    }

    /// Loads a row of `table` by `key` (one of the MAC'd tables), checks its MAC, lets `change` edit the column
    /// values, and writes them back with a fresh MAC: the one way such a row is changed after it is created.
    /// - Throws: `VaultError.integrity` when the stored row does not carry its MAC; `.notFound` when it is missing.
    func updateAuthenticated(
        _ db: Database, _ record: StateMAC.Record, table: String,
        key: (column: String, value: DatabaseValueConvertible),
        fields: (Row) -> [[UInt8]], change: [String: DatabaseValueConvertible?]
    ) throws {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM \(table) WHERE \(key.column) = ?", arguments: [key.value])
        else { throw VaultError.notFound("the \(record.noun) is missing") }
        try stateMAC.check(record, fields(row), (row["state_mac"] as Data?).map { Array($0) })
        var values: [String: DatabaseValueConvertible?] = [:]
        for column in row.columnNames { values[column] = row[column] as DatabaseValue }
        for (k, v) in change { values[k] = v }
        let updated = Row(values)
        let columns = change.keys.sorted()
        let assignments = (columns + ["state_mac"]).map { "\($0) = ?" }.joined(separator: ", ")
        var arguments: [DatabaseValueConvertible?] = columns.map { change[$0] ?? nil }
        arguments.append(Data(stateMAC.tag(record, fields(updated))))
        arguments.append(key.value)
        try db.execute(
            sql: "UPDATE \(table) SET \(assignments) WHERE \(key.column) = ?", arguments: StatementArguments(arguments))
    }

    /// Checks the MAC of a row of a MAC'd table (other than cases).
    /// - Throws: `VaultError.integrity` on a mismatch.
    func checkAuthenticated(_ record: StateMAC.Record, _ row: Row, fields: (Row) -> [[UInt8]]) throws {
        try stateMAC.check(record, fields(row), (row["state_mac"] as Data?).map { Array($0) })
    }

    /// Sets the MAC of a row this transaction has just inserted.
    func authenticateNewRow(
        _ db: Database, _ record: StateMAC.Record, table: String, key: (column: String, value: DatabaseValueConvertible)
    ) throws {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM \(table) WHERE \(key.column) = ?", arguments: [key.value])
        else { throw VaultError.integrity("a row vanished while it was written") }
        let fields: [[UInt8]]
        switch record {
        case .desk: fields = Self.deskFields(row)
        case .accessRequest: fields = Self.accessRequestFields(row)
        case .review: fields = Self.reviewFields(row)
        case .grant: fields = Self.grantFields(row)
        case .caseState: fields = try CaseRow(row: row).macFields
        case .relayToken: fields = try Self.relayTokenFields(db, row)
        case .user: fields = Self.userFields(row)
        }
        try db.execute(
            sql: "UPDATE \(table) SET state_mac = ? WHERE \(key.column) = ?",
            arguments: [Data(stateMAC.tag(record, fields)), key.value])
    }
}
