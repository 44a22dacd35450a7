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
    /// Public keys of earlier vault signing keys (after `key rotate-signing`), kept so that every attestation,
    /// epoch, manifest and checkpoint they signed still verifies. Newest first.
    public var previousSigningKeys: [[UInt8]] = []

    /// The pseudonym key being replaced, while a rotation is in progress (keys/pseudonym-previous.key): routing
    /// accepts both until every desk is rehashed.
    public var previousPseudonym: SecretBytes?

    /// A public tag naming a pseudonym key (so a case records which key its routing id was made with).
    public static func pseudonymKeyTag(_ key: SecretBytes) -> [UInt8] {
        (try? Hashing.keyedBlake2b(Array("consultvault/pseudonym-key-tag/v1".utf8), key: key, outputLength: 16)) ?? []
    }

    /// The current and every earlier signing public key.
    public var allSigningKeys: [[UInt8]] { [signing.publicKey] + previousSigningKeys }

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
        let lines = ((try? String(contentsOf: pubPath, encoding: .utf8)) ?? "").split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard lines.first == keys.verifierKey else {
            throw VaultError.integrity(
                "\(pubPath.path) does not match vault-signing.key for this vault; restore keys/ from the backup of this vault"
            )
        }
        var loaded = keys
        let previousPseudonym = directory.appendingPathComponent("pseudonym-previous.key")
        if FileManager.default.fileExists(atPath: previousPseudonym.path) {
            let attrs = try? FileManager.default.attributesOfItem(atPath: previousPseudonym.path)
            if let m = (attrs?[.posixPermissions] as? NSNumber)?.intValue, m & 0o077 != 0 {
                throw VaultError.forbidden(
                    "\(previousPseudonym.path) is readable by group or others; run: chmod 600 \(previousPseudonym.path)"
                )
            }
            loaded.previousPseudonym = try readSecret(previousPseudonym)
        }
        loaded.previousSigningKeys = try lines.dropFirst().map { line in
            let parts = line.split(separator: "+", maxSplits: 2).map(String.init)
            guard parts.count == 3, parts[0] == keys.noteName, let raw = Data(base64Encoded: parts[2]), raw.count == 33,
                raw.first == 0x01
            else { throw VaultError.integrity("\(pubPath.path) holds a malformed earlier verifier key") }
            return Array(raw.dropFirst())
        }
        return loaded
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

    /// Replaces the signing key: the new seed goes to vault-signing.key (written beside it, then renamed), the new
    /// verifier line first in vault-signing.pub followed by every earlier one.
    static func installSigningKey(_ new: SigningKeyPair, previous: VaultKeys, in directory: URL) throws {
        let fm = FileManager.default
        let keyTmp = directory.appendingPathComponent("vault-signing.key.new")
        let pubTmp = directory.appendingPathComponent("vault-signing.pub.new")
        try? fm.removeItem(at: keyTmp)
        try? fm.removeItem(at: pubTmp)
        try writeSecret(new.seed, to: keyTmp)
        let lines =
            [verifierKey(name: previous.noteName, publicKey: new.publicKey)]
            + previous.allSigningKeys.map { verifierKey(name: previous.noteName, publicKey: $0) }
        try writeFile(Array((lines.joined(separator: "\n") + "\n").utf8), to: pubTmp)
        guard rename(pubTmp.path, directory.appendingPathComponent("vault-signing.pub").path) == 0,
            rename(keyTmp.path, directory.appendingPathComponent("vault-signing.key").path) == 0
        else { throw VaultError(.storageUnavailable, "cannot install the new signing key in \(directory.path)") }
    }

    /// Starts a pseudonym rotation: the current key becomes pseudonym-previous.key, a new pseudonym.key is written.
    static func installPseudonymKey(_ new: SecretBytes, in directory: URL) throws {
        let current = directory.appendingPathComponent("pseudonym.key")
        let previous = directory.appendingPathComponent("pseudonym-previous.key")
        let tmp = directory.appendingPathComponent("pseudonym.key.new")
        try? FileManager.default.removeItem(at: tmp)
        try writeSecret(new, to: tmp)
        guard link(current.path, previous.path) == 0, rename(tmp.path, current.path) == 0 else {
            throw VaultError(.storageUnavailable, "cannot install the new pseudonym key in \(directory.path)")
        }
    }

    /// Ends a pseudonym rotation: the previous key file is overwritten and removed.
    static func removePreviousPseudonymKey(in directory: URL) throws {
        let previous = directory.appendingPathComponent("pseudonym-previous.key")
        if let fd = Optional(open(previous.path, O_WRONLY)), fd >= 0 {
            let zeros = [UInt8](repeating: 0, count: 64)
            _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            _ = fsync(fd)
            close(fd)
        }
        try FileManager.default.removeItem(at: previous)
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

extension Vault {
    /// Checks a signature by the vault's current or any earlier signing key (attestations, epochs, manifests).
    func verifyVaultSignature(_ signature: [UInt8], _ message: [UInt8]) -> Bool {
        keys.allSigningKeys.contains { verified.verify(signature: signature, message: message, publicKey: $0) }
    }
}
