import Foundation
import GRDB
internal import GRDBSQLite

/// A BLOB column decoded straight from the statement into bytes, through GRDB's `StatementColumnConvertible` fast
/// path: no `Data` in between. The transcript reads four blobs per row and up to 1,000 rows per page.
struct BlobColumn: DatabaseValueConvertible, StatementColumnConvertible {
    let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Not called for NULL (GRDB checks first). `sqlite3_column_blob` before `sqlite3_column_bytes`, as SQLite
    /// advises; an empty blob has no pointer.
    init?(sqliteStatement: SQLiteStatement, index: CInt) {
        let pointer = sqlite3_column_blob(sqliteStatement, index)
        let count = Int(sqlite3_column_bytes(sqliteStatement, index))
        guard let pointer, count > 0 else {
            bytes = []
            return
        }
        bytes = [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    var databaseValue: DatabaseValue { Data(bytes).databaseValue }

    static func fromDatabaseValue(_ dbValue: DatabaseValue) -> BlobColumn? {
        Data.fromDatabaseValue(dbValue).map { BlobColumn(bytes: [UInt8]($0)) }
    }
}
