import Foundation
import Synchronization

/// The newest committed manifest version per desk, kept in `DIR/manifest-heads.json` (0600) outside the database,
/// so a database writer who deletes or rolls back manifest rows (even across a restart) is refused: a version that
/// goes below the anchor is a rollback. The file only lags (a crash between commit and write), never leads.
final class ManifestHeads: Sendable {
    private let seen = Mutex<[ID: Int64]>([:])
    private let file: URL?

    init(directory: URL? = nil) {
        file = directory?.appendingPathComponent("manifest-heads.json")
        guard let file, let data = try? Data(contentsOf: file),
            let stored = try? JSONDecoder().decode([String: Int64].self, from: data)
        else { return }
        seen.withLock { m in
            for (k, v) in stored { if let id = ID(k) { m[id] = v } }
        }
    }

    func highest(_ desk: ID) -> Int64 { seen.withLock { $0[desk] ?? 0 } }

    /// Records a committed version; rewrites the anchor file when it moved forward.
    func saw(_ version: Int64, for desk: ID) {
        let changed: [String: Int64]? = seen.withLock { m in
            guard version > (m[desk] ?? 0) else { return nil }
            m[desk] = version
            return Dictionary(uniqueKeysWithValues: m.map { ($0.key.description, $0.value) })
        }
        guard let changed, let file, let data = try? JSONEncoder().encode(changed) else { return }
        let temporary = file.appendingPathExtension("tmp")
        guard
            FileManager.default.createFile(
                atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600])
        else { return }
        _ = rename(temporary.path, file.path)  // atomic replace
    }
}
