import Foundation
import VaultCrypto
import ZIPFoundation

/// The ZIP inside a disclosure package or a hand-back (schema/FORMAT.md §21): entries added in order, then
/// `manifest.json` (path, SHA-256 and size of every other entry) and `manifest.sig` (the vault's Ed25519 signature
/// over the manifest's exact bytes, one base64 line). Built in memory (stored, not deflated): nothing of it touches
/// the disk before it is age-encrypted.
public final class PackageArchive {
    public struct File: Sendable, Equatable {
        public let path: String
        public let sha256: String
        public let size: Int
    }

    private let archive: Archive
    public private(set) var files: [File] = []
    private let modified = Date(timeIntervalSince1970: 1_577_836_800)  // fixed: entry times say nothing

    /// - Throws: when ZIPFoundation cannot open an in-memory archive.
    public init() throws {
        archive = try Archive(accessMode: .create)
    }

    /// Adds one file.
    /// - Throws: `.invalid` for a path that is empty, absolute, has `..` or repeats one; ZIP errors.
    public func add(_ path: String, _ bytes: [UInt8]) throws {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains(".."),
            !files.contains(where: { $0.path == path }), path != "manifest.json", path != "manifest.sig"
        else { throw VaultError.invalid("bad package path") }
        let data = Data(bytes)
        try archive.addEntry(
            with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: modified,
            permissions: 0o600, compressionMethod: .none
        ) { position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
        files.append(File(path: path, sha256: Hex.string(Hashing.sha256(bytes)), size: bytes.count))
    }

    /// The manifest's bytes: `{"version":1,"files":[{"path":…,"sha256":…,"size":…},…]}`.
    public static func manifest(_ files: [File]) -> [UInt8] {
        var out = Array(#"{"version":1,"files":["#.utf8)
        for (i, f) in files.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(#"{"path":"#.utf8)
            JSONString.append(f.path, to: &out, shortEscapes: .newlineReturnTab)
            out += Array(#","sha256":""#.utf8) + Array(f.sha256.utf8) + Array(#"","size":"#.utf8)
            out += Array(String(f.size).utf8) + [UInt8(ascii: "}")]
        }
        return out + Array("]}\n".utf8)
    }

    /// Adds manifest.json and manifest.sig and returns the ZIP's bytes.
    /// - Throws: ZIP errors.
    public func finish(signing: SigningKeyPair) throws -> Data {
        let manifest = Self.manifest(files)
        let signature = Array((Data(signing.sign(manifest)).base64EncodedString() + "\n").utf8)
        for (path, bytes) in [("manifest.json", manifest), ("manifest.sig", signature)] {
            let data = Data(bytes)
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: modified,
                permissions: 0o600, compressionMethod: .none
            ) { position, size in data.subdata(in: Int(position)..<(Int(position) + size)) }
        }
        guard let data = archive.data else { throw VaultError.integrity("the package archive has no data") }
        return data
    }
}

/// Writes an age file to `url` through a `.partial` file renamed into place (0600), from plaintext given in pieces.
public enum AgeFileWriter {
    /// Encrypts `plaintext` (any size; passed through in 1 MiB slices) to `recipient` into `url`.
    /// - Returns: the file's size and SHA-256.
    /// - Throws: file or crypto errors (the partial file is removed).
    @discardableResult
    public static func write(_ plaintext: Data, to recipient: AgeRecipient, url: URL) throws -> (
        size: Int, sha256: [UInt8]
    ) {
        let partial = url.appendingPathExtension("partial")
        guard
            FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw VaultError(.storageUnavailable, "cannot create \(partial.lastPathComponent)") }
        do {
            let handle = try FileHandle(forWritingTo: partial)
            defer { try? handle.close() }
            var size = 0
            let hash = SHA256Stream()
            let encryptor = try AgeEncryptor(recipients: [recipient]) { bytes in
                try handle.write(contentsOf: bytes)
                hash.update(bytes)
                size += bytes.count
            }
            var offset = 0
            while offset < plaintext.count {
                let end = min(plaintext.count, offset + (1 << 20))
                try plaintext[offset..<end].withUnsafeBytes { try encryptor.update($0) }
                offset = end
            }
            try encryptor.finish()
            try handle.synchronize()
            try handle.close()
            try FileManager.default.moveItem(at: partial, to: url)
            return (size, hash.finish())
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }
}
