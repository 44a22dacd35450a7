import Foundation
import VaultCrypto
import ZIPFoundation

/// Reads a package's ZIP (after age decryption) and checks it: manifest.json lists every other entry exactly once
/// with its SHA-256 and size, and manifest.sig is a valid Ed25519 signature over manifest.json's bytes by one of the
/// given vault signing keys. Used by `handback --check` and the tests.
public enum PackageCheck {
    /// The entries of a ZIP held in memory, by path.
    /// - Throws: `.integrity` when the bytes are not a readable ZIP or an entry repeats.
    public static func entries(_ zip: Data) throws -> [String: [UInt8]] {
        let archive: Archive
        do { archive = try Archive(data: zip, accessMode: .read) } catch {
            throw VaultError.integrity("the package is not a ZIP archive")
        }
        var out: [String: [UInt8]] = [:]
        for entry in archive where entry.type == .file {
            var bytes: [UInt8] = []
            do { _ = try archive.extract(entry) { bytes += $0 } } catch {
                throw VaultError.integrity("entry \(entry.path) does not extract (\(error))")
            }
            guard out.updateValue(bytes, forKey: entry.path) == nil else {
                throw VaultError.integrity("entry \(entry.path) appears twice")
            }
        }
        return out
    }

    struct Manifest: Decodable {
        struct File: Decodable {
            let path: String
            let sha256: String
            let size: Int
        }
        let version: Int
        let files: [File]
    }

    /// Verifies manifest, signature and hashes.
    /// - Returns: the number of files the manifest covers.
    /// - Throws: `.integrity` naming the first thing that failed.
    @discardableResult
    public static func verify(_ entries: [String: [UInt8]], signingKeys: [[UInt8]]) throws -> Int {
        guard let manifestBytes = entries["manifest.json"] else {
            throw VaultError.integrity("manifest.json is missing")
        }
        guard let sigLine = entries["manifest.sig"] else { throw VaultError.integrity("manifest.sig is missing") }
        let sigText = String(decoding: sigLine, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard let signature = Data(base64Encoded: sigText),
            signingKeys.contains(where: {
                SigningKeyPair.verify(signature: Array(signature), message: manifestBytes, publicKey: $0)
            })
        else { throw VaultError.integrity("manifest.sig does not verify with the vault's signing key") }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes)) } catch {
            throw VaultError.integrity("manifest.json does not parse")
        }
        guard manifest.version == 1 else { throw VaultError.integrity("manifest.json version \(manifest.version)") }
        var seen = Set<String>()
        for f in manifest.files {
            guard seen.insert(f.path).inserted else { throw VaultError.integrity("\(f.path) is listed twice") }
            guard let bytes = entries[f.path] else { throw VaultError.integrity("\(f.path) is listed but missing") }
            guard bytes.count == f.size else { throw VaultError.integrity("\(f.path) has the wrong size") }
            guard Hex.string(Hashing.sha256(bytes)) == f.sha256 else {
                throw VaultError.integrity("\(f.path) does not match its SHA-256")
            }
        }
        for path in entries.keys where path != "manifest.json" && path != "manifest.sig" && !seen.contains(path) {
            throw VaultError.integrity("\(path) is not in the manifest")
        }
        return manifest.files.count
    }
}
