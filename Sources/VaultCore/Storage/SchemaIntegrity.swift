import Foundation
import GRDB

/// The database schema must be exactly what this version's migrations make: every table, index, trigger and view in
/// `sqlite_master`, and nothing else. Someone who can write `vault.sqlite` but not run the process could otherwise
/// plant, say, `CREATE TRIGGER t BEFORE INSERT ON access_log BEGIN SELECT RAISE(IGNORE); END`, and reads would go
/// unlogged while the chain still verified. Checked at `Vault.open` (so at `restore` too) and by `/readyz`.
extension VaultDatabase {
    /// One schema object as `sqlite_master` lists it, its SQL with whitespace runs collapsed.
    struct SchemaObject: Hashable, Sendable {
        var type: String
        var name: String
        var table: String
        var sql: String
    }

    /// The schema a fresh in-memory database has after the same migrator ran: the golden schema.
    static let goldenSchema: Result<Set<SchemaObject>, VaultError> = {
        do {
            let memory = try DatabaseQueue()
            try VaultDatabase.migrator.migrate(memory)
            return .success(try memory.read { try VaultDatabase.schemaObjects($0) })
        } catch {
            return .failure(
                VaultError(.internalError, "the reference schema could not be built (\(VaultDatabase.describe(error)))")
            )
        }
    }()

    static func schemaObjects(_ db: Database) throws -> Set<SchemaObject> {
        Set(
            try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM main.sqlite_master").map { row in
                SchemaObject(
                    type: row["type"] ?? "", name: row["name"] ?? "", table: row["tbl_name"] ?? "",
                    sql: normalize(row["sql"] ?? ""))
            })
    }

    static func normalize(_ sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }

    /// Throws `.integrity` naming the first object that is extra, missing or altered.
    static func checkSchema(_ db: Database) throws {
        let expected = try goldenSchema.get()
        let actual = try schemaObjects(db)
        if actual == expected { return }
        let byKey = { (s: Set<SchemaObject>) in Dictionary(s.map { ("\($0.type) \($0.name)", $0) }) { a, _ in a } }
        let want = byKey(expected)
        let have = byKey(actual)
        let problem: String
        if let extra = have.keys.sorted().first(where: { want[$0] == nil }) {
            problem = "an unexpected \(printable(extra))"
        } else if let missing = want.keys.sorted().first(where: { have[$0] == nil }) {
            problem = "a missing \(missing)"
        } else {
            let altered = have.keys.sorted().first { have[$0] != want[$0] } ?? "object"
            problem = "an altered \(printable(altered))"
        }
        throw VaultError.integrity(
            "the database schema differs from the one this version makes: \(problem). The file was changed outside "
                + "the vault; it is not opened. See ops/RUNBOOK.md (integrity_failure at open)")
    }

    /// An object name as it may appear in a message: printable ASCII, at most 80 characters.
    static func printable(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(80).map { $0.isASCII && $0.value >= 0x20 ? $0 : "?" }))
    }

    /// Compares the live schema with the golden one (a small `sqlite_master` read).
    /// - Throws: `VaultError.integrity` naming an extra, missing or altered table, index, trigger or view.
    public func verifySchema() throws {
        do {
            try writer.read { db in try Self.checkSchema(db) }
        } catch let e as VaultError {
            throw e
        } catch let e as DatabaseError {
            throw Self.map(e)
        }
    }

    /// As `verifySchema()`, without blocking a thread of the caller.
    public func verifySchemaAsync() async throws {
        try await read { db in try Self.checkSchema(db) }
    }
}
