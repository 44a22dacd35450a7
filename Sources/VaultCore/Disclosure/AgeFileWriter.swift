import Foundation
import VaultCrypto

/// An age file being written to `url` through `url.partial` (created new, 0600), from plaintext given in pieces;
/// `commit` renames it into place, `abandon` removes it. Only ciphertext ever reaches the disk.
public final class AgeFileStream {
    public let url: URL
    private let partial: URL
    private let handle: FileHandle
    private var encryptor: AgeEncryptor!
    private let hash = SHA256Stream()
    private final class Counter { var bytes = 0 }
    private let written = Counter()
    private var open = true

    /// - Throws: `.conflict` when `url` or `url.partial` exists; `.storageUnavailable` when it cannot be created.
    public init(to recipient: AgeRecipient, url: URL) throws {
        self.url = url
        partial = url.appendingPathExtension("partial")
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw VaultError(.conflict, "\(url.lastPathComponent) exists; choose a new file")
        }
        let fd = Foundation.open(partial.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw VaultError(
                errno == EEXIST ? .conflict : .storageUnavailable,
                "cannot create \(partial.lastPathComponent)"
                    + (errno == EEXIST ? " (it exists: a hand-back or package still running, or left over)" : ""))
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            encryptor = try AgeEncryptor(recipients: [recipient]) { [handle, hash, written] bytes in
                try handle.write(contentsOf: bytes)
                hash.update(bytes)
                written.bytes += bytes.count
            }
        } catch {
            abandon()
            throw error
        }
    }

    /// Encrypts and writes the next plaintext bytes.
    /// - Throws: file or crypto errors.
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + (1 << 20))
            try bytes[offset..<end].withUnsafeBytes { try encryptor.update($0) }
            offset = end
        }
    }

    /// Writes `data` (in 1 MiB slices).
    /// - Throws: as `write`.
    public func write(_ data: Data) throws {
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + (1 << 20))
            try data[offset..<end].withUnsafeBytes { try encryptor.update($0) }
            offset = end
        }
    }

    /// Finishes the age stream, syncs the file and renames it into place (never over an existing file).
    /// - Returns: the age file's size and SHA-256.
    /// - Throws: file or crypto errors (the partial file is removed).
    @discardableResult
    public func commit() throws -> (size: Int, sha256: [UInt8]) {
        do {
            try encryptor.finish()
            try handle.synchronize()
            try handle.close()
            open = false
            // A hard link never replaces an existing file; a file system without hard links (a FAT stick) gets
            // a rename after a last check.
            if link(partial.path, url.path) == 0 {
                unlink(partial.path)
            } else if errno == EEXIST || FileManager.default.fileExists(atPath: url.path) {
                throw VaultError(.conflict, "\(url.lastPathComponent) appeared meanwhile; nothing replaced")
            } else if rename(partial.path, url.path) != 0 {
                throw VaultError(.storageUnavailable, "cannot rename \(partial.lastPathComponent) into place")
            }
            return (written.bytes, hash.finish())
        } catch {
            abandon()
            throw error
        }
    }

    /// Removes the partial file (after a failure).
    public func abandon() {
        if open { try? handle.close() }
        open = false
        try? FileManager.default.removeItem(at: partial)
    }
}

/// Writes an age file to `url` through a `.partial` file renamed into place (0600), from plaintext in memory.
public enum AgeFileWriter {
    /// Encrypts `plaintext` (any size; passed through in 1 MiB slices) to `recipient` into `url`.
    /// - Returns: the file's size and SHA-256.
    /// - Throws: file or crypto errors (the partial file is removed).
    @discardableResult
    public static func write(_ plaintext: Data, to recipient: AgeRecipient, url: URL) throws -> (
        size: Int, sha256: [UInt8]
    ) {
        let stream = try AgeFileStream(to: recipient, url: url)
        do {
            try stream.write(plaintext)
            return try stream.commit()
        } catch {
            stream.abandon()
            throw error
        }
    }
}
