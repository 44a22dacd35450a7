import Foundation
import Testing
import VaultCrypto

@Suite struct HexTests {
    @Test("lowercase digits out; the strict decoder refuses uppercase, odd lengths and other characters")
    func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]
        #expect(Hex.string(bytes) == "00017f80abff")
        #expect(bytes.hex == "00017f80abff")
        var appended: [UInt8] = [0x2d]
        Hex.append(bytes, to: &appended)
        #expect(String(decoding: appended, as: UTF8.self) == "-00017f80abff")
        #expect(Hex.decode("00017f80abff") == bytes)
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("00017F80ABFF") == nil)
        #expect(Hex.decode("00017F80ABFF", .anyCase) == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("0g") == nil)
        #expect(Hex.decode("0g", .anyCase) == nil)
        #expect([UInt8](hex: "00017F80abff") == bytes)
    }

    @Test("encode fills a buffer with every byte's two digits")
    func encodeIntoBuffer() {
        let bytes = (0...255).map { UInt8($0) }
        var out = [UInt8](repeating: 0, count: 512)
        bytes.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { Hex.encode(b, into: $0) } }
        #expect(String(decoding: out, as: UTF8.self) == bytes.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.decode(String(decoding: out, as: UTF8.self)) == bytes)
    }
}
