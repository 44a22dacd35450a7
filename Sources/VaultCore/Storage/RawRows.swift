import GRDB
internal import GRDBSQLite

/// Steps a query through GRDB and hands each row to `body` as the raw SQLite statement, for loops over hundreds of
/// thousands of rows where `Row` subscripts (a `DatabaseValue` or `Data` per column) cost more than the query: the
/// statistics pass. `body` reads columns with `RawColumns` only; the statement is valid until it returns.
func forEachRawRow(
    _ db: Database, sql: String, arguments: StatementArguments, _ body: (RawColumns) throws -> Void
) throws {
    let statement = try db.makeStatement(sql: sql)
    let cursor = try Row.fetchCursor(statement, arguments: arguments)
    let columns = RawColumns(statement: statement.sqliteStatement)
    while try cursor.next() != nil { try body(columns) }
}

/// The current row's columns, read straight from SQLite (`sqlite3_column_*`): SQLite's own conversions apply (an
/// integer read of NULL is 0), so callers read only columns whose type the schema fixes.
struct RawColumns {
    fileprivate let statement: SQLiteStatement

    func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    /// A TEXT column as a `String`, or nil for NULL.
    func text(_ index: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, index) else { return nil }
        return String(cString: pointer)
    }

    /// A 16-byte BLOB column (an id) as a `CaseKey`, or nil when it is not 16 bytes.
    func caseKey(_ index: Int32) -> CaseKey? {
        let pointer = sqlite3_column_blob(statement, index)
        guard let pointer, sqlite3_column_bytes(statement, index) == 16 else { return nil }
        return CaseKey(
            high: pointer.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            low: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }
}
