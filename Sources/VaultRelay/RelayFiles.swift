import Foundation
import VaultCrypto

/// The relay's files: mode checks and secret reads that never leave the secret in ordinary memory longer than needed.
enum RelayFiles {
    /// Refuses a file that is missing, not a regular file, or has a mode other than 0600 or 0400.
    /// - Throws: `RelayConfigError` naming the file and `chmod 600 FILE`.
    static func checkMode(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw RelayConfigError("\(path) does not exist or cannot be read (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw RelayConfigError("\(path) is not a regular file") }
        let mode = Int(st.st_mode & 0o7777)
        guard mode == 0o600 || mode == 0o400 else {
            throw RelayConfigError(
                "\(path) has mode \(String(mode, radix: 8)); it must be 0600 or 0400: run chmod 600 \(path)")
        }
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RelayConfigError("\(path) cannot be read")
        }
        return data
    }

    /// The first line of a token file, surrounding whitespace dropped, as a secret.
    /// - Throws: `RelayConfigError` for a missing, loose or empty file.
    static func token(_ path: String, named config: String) throws -> SecretBytes {
        try checkMode(path)
        var bytes = [UInt8](try read(path))
        defer { SecretBytes.wipe(&bytes) }
        let line = bytes.prefix { $0 != 0x0A }
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 || b == 0x0D }
        guard let start = line.firstIndex(where: { !isSpace($0) }), let end = line.lastIndex(where: { !isSpace($0) })
        else { throw RelayConfigError("\(path) is empty; it must hold the token on its first line") }
        var token = Array(bytes[start...end])
        defer { SecretBytes.wipe(&token) }
        guard token.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw RelayConfigError("\(path): the token on its first line must be printable ASCII without spaces")
        }
        do {
            return try SecretBytes(copying: token)
        } catch {
            throw RelayConfigError("cannot hold the secret of \(path) in protected memory: \(error)")
        }
    }
}
