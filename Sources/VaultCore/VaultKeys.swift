import Foundation
import VaultCrypto

/// The vault's own keys, kept in `DIR/keys/` outside the database (folder 0700, files 0600):
/// the signing key (attests user keys, signs epochs, manifests and checkpoints), the pseudonym key
/// (routing ids) and the box key (LINE channel secrets usable with nobody unlocked).
public struct VaultKeys: Sendable {
    public let vaultID: ID
    public let signing: SigningKeyPair
    public let pseudonym: SecretBytes
    public let box: SecretBytes

    public static let files = ["vault-signing.key", "vault-signing.pub", "pseudonym.key", "vault-box.key"]

    /// The C2SP signed-note name of this vault: `consultvault/<vault id>`.
    public var noteName: String { "consultvault/\(vaultID)" }

    /// The verifier key line written to vault-signing.pub.
    public var verifierKey: String { Self.verifierKey(name: noteName, publicKey: signing.publicKey) }

    public static func verifierKey(name: String, publicKey: [UInt8]) -> String {
        NoteVerifier(name: name, publicKey: publicKey).line
    }

    /// Creates fresh keys in `directory` (which must not exist yet).
    /// - Throws: `VaultError.conflict` when the folder exists.
    public static func create(in directory: URL, vaultID: ID) throws -> VaultKeys {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: directory.path) else {
            throw VaultError.conflict("\(directory.path) already exists; refusing to overwrite keys")
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keys = try VaultKeys(
            vaultID: vaultID, signing: SigningKeyPair.generate(), pseudonym: SecretBytes.random(count: 32),
            box: SecretBytes.random(count: 32))
        try writeSecret(keys.signing.seed, to: directory.appendingPathComponent("vault-signing.key"))
        try writeSecret(keys.pseudonym, to: directory.appendingPathComponent("pseudonym.key"))
        try writeSecret(keys.box, to: directory.appendingPathComponent("vault-box.key"))
        try writeFile(Array((keys.verifierKey + "\n").utf8), to: directory.appendingPathComponent("vault-signing.pub"))
        return keys
    }

    /// Loads the keys, refusing files or a folder that group or others can read.
    /// - Throws: `VaultError.forbidden` naming the file and the chmod that fixes it; `.integrity` on a mismatch.
    public static func load(from directory: URL, expectedVaultID: ID) throws -> VaultKeys {
        try checkPermissions(directory)
        let seed = try readSecret(directory.appendingPathComponent("vault-signing.key"))
        let signing = try SigningKeyPair(seed: seed)
        let keys = try VaultKeys(
            vaultID: expectedVaultID, signing: signing,
            pseudonym: readSecret(directory.appendingPathComponent("pseudonym.key")),
            box: readSecret(directory.appendingPathComponent("vault-box.key")))
        let pubPath = directory.appendingPathComponent("vault-signing.pub")
        let published = (try? String(contentsOf: pubPath, encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        guard published == keys.verifierKey else {
            throw VaultError.integrity(
                "\(pubPath.path) does not match vault-signing.key for this vault; restore keys/ from the backup of this vault"
            )
        }
        return keys
    }

    /// Refuses a keys folder or key file readable or writable by group or others.
    public static func checkPermissions(_ directory: URL) throws {
        let fm = FileManager.default
        func mode(_ path: String) throws -> Int {
            guard let attrs = try? fm.attributesOfItem(atPath: path), let m = attrs[.posixPermissions] as? NSNumber
            else {
                throw VaultError.notFound("\(path) is missing; was this directory made by `consultvault init`?")
            }
            return m.intValue
        }
        let dirMode = try mode(directory.path)
        if dirMode & 0o077 != 0 {
            throw VaultError.forbidden(
                "\(directory.path) is accessible by group or others (mode \(String(dirMode, radix: 8))); run: chmod 700 \(directory.path)"
            )
        }
        for name in files {
            let path = directory.appendingPathComponent(name).path
            let m = try mode(path)
            if m & 0o077 != 0 {
                throw VaultError.forbidden(
                    "\(path) is readable by group or others (mode \(String(m, radix: 8))); run: chmod 600 \(path)")
            }
        }
    }

    private static func writeSecret(_ secret: SecretBytes, to url: URL) throws {
        var raw = secret.withUnsafeBytes { Array($0) }
        defer { SecretBytes.wipe(&raw) }
        var text = Array((Data(raw).base64EncodedString() + "\n").utf8)
        defer { SecretBytes.wipe(&text) }
        try writeFile(text, to: url)
    }

    private static func writeFile(_ bytes: [UInt8], to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw VaultError(.storageUnavailable, "cannot create \(url.path)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw VaultError(.storageUnavailable, "cannot write \(url.path)")
        }
    }

    private static func readSecret(_ url: URL) throws -> SecretBytes {
        guard var data = FileManager.default.contents(atPath: url.path) else {
            throw VaultError.notFound("\(url.path) is missing or unreadable")
        }
        defer { data.resetBytes(in: 0..<data.count) }
        guard let text = String(data: data, encoding: .utf8),
            var raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)).map({ Array($0) }),
            raw.count == 32
        else { throw VaultError.integrity("\(url.path) is not a 32-byte base64 key") }
        return try SecretBytes(consuming: &raw)
    }
}
