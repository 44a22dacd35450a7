import Foundation
import VaultCrypto

/// The relay's X25519 key file (`relay keygen`): the base64 secret key on the first line, then a comment line with
/// the public key; mode 0600.
public enum RelayKeyFile {
    /// Writes a new key pair to `path` (which must not exist) with mode 0600.
    /// - Returns: the public key, base64, for `desk set-relay-key`.
    /// - Throws: `RelayConfigError` when the file exists or cannot be written.
    public static func generate(to path: String) throws -> String {
        let pair: BoxKeyPair
        do {
            pair = try BoxKeyPair.generate()
        } catch {
            throw RelayConfigError("cannot make a key pair: \(error)")
        }
        let publicKey = Data(pair.publicKey).base64EncodedString()
        var text = pair.secretKey.withUnsafeBytes { Array(Data($0).base64EncodedString().utf8) }
        defer { SecretBytes.wipe(&text) }
        text += Array("\n# public key (desk set-relay-key --public-key): \(publicKey)\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw RelayConfigError("cannot create \(path): \(String(cString: strerror(errno))) (it must not exist yet)")
        }
        defer { close(fd) }
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == text.count, fsync(fd) == 0 else {
            throw RelayConfigError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return publicKey
    }

    /// Reads a key file written by `generate`.
    /// - Throws: `RelayConfigError` for a missing, loose or malformed file.
    public static func read(_ path: String) throws -> BoxKeyPair {
        try RelayFiles.checkMode(path)
        var bytes = [UInt8](try RelayFiles.read(path))
        defer { SecretBytes.wipe(&bytes) }
        var line = Array(bytes.prefix { $0 != 0x0A })
        defer { SecretBytes.wipe(&line) }
        while let last = line.last, last == 0x20 || last == 0x0D || last == 0x09 { line.removeLast() }
        guard var raw = Data(base64Encoded: Data(line)).map(Array.init), raw.count == BoxKeyPair.publicKeyLength else {
            throw RelayConfigError(
                "\(path) is not a relay key file: its first line must be a base64 32-byte X25519 secret key (consultvault relay keygen)"
            )
        }
        defer { SecretBytes.wipe(&raw) }
        do {
            return try BoxKeyPair(secretKey: SecretBytes(copying: raw))
        } catch {
            throw RelayConfigError("cannot load the relay key of \(path): \(error)")
        }
    }
}
