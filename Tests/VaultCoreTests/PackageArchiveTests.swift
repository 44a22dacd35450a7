import Foundation
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore

/// The one-pass ZIP writer of packages (schema/FORMAT.md §21): read back by ZIPFoundation and Info-ZIP, with ZIP64
/// records once the archive has 65,535 entries or more.
@Suite struct PackageArchiveTests {
    static func archive(entries: Int) throws -> (zip: Data, expected: [String: [UInt8]], signing: SigningKeyPair) {
        let signing = try SigningKeyPair.generate()
        var streamed = Data()
        let archive = PackageArchive { streamed.append(contentsOf: $0) }
        var expected: [String: [UInt8]] = [:]
        for i in 0..<entries {
            let path = "cases/\(i / 5)/f\(i % 5)-é.json"
            let bytes = Array("{\"n\":\(i)}\n".utf8)
            try archive.add(path, bytes)
            expected[path] = bytes
        }
        try archive.close(signing: signing)
        return (streamed, expected, signing)
    }

    @Test("a streamed archive reads back entry for entry, and unzip -t checks every CRC-32")
    func small() async throws {
        let (zip, expected, signing) = try Self.archive(entries: 12)
        let entries = try PackageCheck.entries(zip)
        #expect(try PackageCheck.verify(entries, signingKeys: [signing.publicKey]) == 12)
        for (path, bytes) in expected { #expect(entries[path] == bytes) }
        // No ZIP64 end record in a small archive.
        #expect(zip.range(of: Data([0x50, 0x4b, 0x06, 0x06])) == nil)
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.zip")
        try zip.write(to: url)
        let tested = try AgeTool.run("unzip", ["-t", url.path])
        #expect(tested.status == 0 && tested.out.contains("No errors detected"), "\(tested.out)")
    }

    @Test("70,000 entries: ZIP64 end records, every entry still listed and readable")
    func zip64() async throws {
        let (zip, expected, signing) = try Self.archive(entries: 70_000)
        #expect(zip.range(of: Data([0x50, 0x4b, 0x06, 0x06])) != nil)  // ZIP64 end of central directory
        #expect(zip.range(of: Data([0x50, 0x4b, 0x06, 0x07])) != nil)  // its locator
        let entries = try PackageCheck.entries(zip)
        #expect(entries.count == 70_002)
        #expect(try PackageCheck.verify(entries, signingKeys: [signing.publicKey]) == 70_000)
        #expect(entries["cases/13999/f4-é.json"] == expected["cases/13999/f4-é.json"])
        let dir = try AgeTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("big.zip")
        try zip.write(to: url)
        #expect(try AgeTool.run("unzip", ["-tq", url.path]).status == 0)
    }
}
