import Foundation
import VaultCrypto
import ZIPFoundation

/// The ZIP inside a disclosure package or a hand-back (schema/FORMAT.md §21): entries added in order, then
/// `manifest.json` (path, SHA-256 and size of every other entry) and `manifest.sig` (the vault's Ed25519 signature
/// over the manifest's exact bytes, one base64 line). Entries are stored (not deflated) and written as they are
/// added, in one pass, to a sink (the age encryptor of a hand-back) or to memory (a disclosure package): nothing of
/// it touches the disk before it is age-encrypted. ZIP64 records are added only when the archive needs them
/// (65,535 entries or more, or more than 4 GiB).
public final class PackageArchive {
    public struct File: Sendable, Equatable {
        public let path: String
        public let sha256: String
        public let size: Int
    }

    private final class Memory {
        var data = Data()
    }

    private let sink: ([UInt8]) throws -> Void
    private let memory: Memory?
    private var offset: UInt64 = 0
    private var central: [UInt8] = []
    private var entryCount = 0
    private var paths = Set<String>()
    public private(set) var files: [File] = []
    /// DOS date and time of every entry: 2020-01-01 00:00 (entry times say nothing).
    static let dosDate: UInt16 = (40 << 9) | (1 << 5) | 1
    static let dosTime: UInt16 = 0

    /// An archive built in memory; `finish` returns its bytes.
    /// - Throws: never; kept throwing for its callers.
    public init() throws {
        let memory = Memory()
        self.memory = memory
        sink = { memory.data.append(contentsOf: $0) }
    }

    /// An archive whose bytes go to `sink` as they are made (a local header and its entry per `add`, the central
    /// directory at `close`).
    public init(sink: @escaping ([UInt8]) throws -> Void) {
        memory = nil
        self.sink = sink
    }

    /// Adds one file.
    /// - Throws: `.invalid` for a path that is empty, absolute, has `..` or repeats one; what the sink throws.
    public func add(_ path: String, _ bytes: [UInt8]) throws {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains(".."),
            !paths.contains(path), path != "manifest.json", path != "manifest.sig"
        else { throw VaultError.invalid("bad package path") }
        try entry(path, bytes)
        files.append(File(path: path, sha256: Hex.string(Hashing.sha256(bytes)), size: bytes.count))
    }

    private func entry(_ path: String, _ bytes: [UInt8]) throws {
        guard bytes.count < 0xFFFF_FFFF else { throw VaultError.invalid("a package file is 4 GiB or more") }
        paths.insert(path)
        let name = Array(path.utf8)
        let crc = UInt32(Data(bytes).crc32(checksum: 0))
        let size = UInt32(bytes.count)
        var local = ZIPBytes()
        local.u32(0x0403_4b50)
        local.u16(20)  // version needed: 2.0
        local.u16(0x0800)  // names are UTF-8
        local.u16(0)  // stored
        local.u16(Self.dosTime)
        local.u16(Self.dosDate)
        local.u32(crc)
        local.u32(size)
        local.u32(size)
        local.u16(UInt16(name.count))
        local.u16(0)
        local.bytes += name
        let needs64 = offset >= 0xFFFF_FFFF
        var cd = ZIPBytes()
        cd.u32(0x0201_4b50)
        cd.u16(needs64 ? 0x032D : 0x0314)  // made by: UNIX, 4.5 or 2.0
        cd.u16(needs64 ? 45 : 20)
        cd.u16(0x0800)
        cd.u16(0)
        cd.u16(Self.dosTime)
        cd.u16(Self.dosDate)
        cd.u32(crc)
        cd.u32(size)
        cd.u32(size)
        cd.u16(UInt16(name.count))
        cd.u16(needs64 ? 12 : 0)  // extra: ZIP64 (id 1, 8 bytes: the local header's offset)
        cd.u16(0)  // comment
        cd.u16(0)  // disk
        cd.u16(0)  // internal attributes
        cd.u32(UInt32(0o100600) << 16)  // regular file, 0600
        cd.u32(needs64 ? 0xFFFF_FFFF : UInt32(offset))
        cd.bytes += name
        if needs64 {
            cd.u16(1)
            cd.u16(8)
            cd.u64(offset)
        }
        try sink(local.bytes)
        try sink(bytes)
        offset += UInt64(local.bytes.count + bytes.count)
        central += cd.bytes
        entryCount += 1
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

    /// Adds manifest.json and manifest.sig, then the central directory (and the ZIP64 records when needed).
    /// - Returns: the manifest's bytes.
    /// - Throws: what the sink throws.
    @discardableResult
    public func close(signing: SigningKeyPair) throws -> [UInt8] {
        let manifest = Self.manifest(files)
        let signature = Array((Data(signing.sign(manifest)).base64EncodedString() + "\n").utf8)
        try entry("manifest.json", manifest)
        try entry("manifest.sig", signature)
        let start = offset
        let size = UInt64(central.count)
        try sink(central)
        var end = ZIPBytes()
        let needs64 = entryCount >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF
        if needs64 {
            let record = start + size
            end.u32(0x0606_4b50)
            end.u64(44)
            end.u16(0x032D)
            end.u16(45)
            end.u32(0)
            end.u32(0)
            end.u64(UInt64(entryCount))
            end.u64(UInt64(entryCount))
            end.u64(size)
            end.u64(start)
            end.u32(0x0706_4b50)  // locator
            end.u32(0)
            end.u64(record)
            end.u32(1)
        }
        end.u32(0x0605_4b50)
        end.u16(0)
        end.u16(0)
        end.u16(UInt16(min(entryCount, 0xFFFF)))
        end.u16(UInt16(min(entryCount, 0xFFFF)))
        end.u32(UInt32(min(size, 0xFFFF_FFFF)))
        end.u32(UInt32(min(start, 0xFFFF_FFFF)))
        end.u16(0)
        try sink(end.bytes)
        central = []
        return manifest
    }

    /// `close`, for an archive built in memory: its bytes.
    /// - Throws: `.integrity` for an archive made with a sink.
    public func finish(signing: SigningKeyPair) throws -> Data {
        try close(signing: signing)
        guard let memory else { throw VaultError.integrity("the package archive was streamed, not kept") }
        return memory.data
    }
}

/// Little-endian ZIP record fields.
struct ZIPBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * i)) & 0xFF)) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8((v >> (8 * i)) & 0xFF)) } }
}
