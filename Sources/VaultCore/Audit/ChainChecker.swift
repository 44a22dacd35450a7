import Foundation
import VaultCrypto

/// The hot path of `AuditVerifier`: parses entry lines and recomputes the chain. A struct, so the verifier
/// can run it as a local value (no dynamic exclusivity checks, no allocation per entry).
struct ChainChecker {
    /// hash_1, hash_2, … concatenated (32 bytes each).
    private(set) var hashes: [UInt8] = []
    /// The seq the next entry must have.
    private(set) var next: Int64 = 1
    private(set) var exportLine = 0
    private var fields: [FlatJSON.Field] = []
    /// hash_{n-1} in the first 32 bytes, then entry_n as it is built.
    private var canon: [UInt8] = AuditLog.genesis
    private var slots = [FlatJSON.Value?](repeating: nil, count: 6)
    private var expectedHex = [UInt8](repeating: 0, count: 64)

    init() {
        fields.reserveCapacity(16)
        canon.reserveCapacity(1024)
    }

    /// Checks the line if it is an entry; false for a note line (left to the caller).
    /// - Throws: `AuditVerificationFailure` naming the seq and why.
    mutating func feed(_ line: UnsafeBufferPointer<UInt8>) throws -> Bool {
        exportLine += 1
        if line.isEmpty { return true }
        do {
            try FlatJSON.parse(line, into: &fields)
        } catch let e as FlatJSON.Malformed {
            throw AuditVerificationFailure(seq: next, "export line \(exportLine) is not valid JSON (\(e.why))")
        }
        guard let type = fields.first(where: { FlatJSON.key($0, is: "type", in: line) }),
            let n = FlatJSON.length(type.value)
        else { throw AuditVerificationFailure(seq: next, "export line \(exportLine) has no `type`") }
        if n == 5, case .span(let r) = type.value, "entry".utf8.elementsEqual(line[r]) {
            try entry(line)
            return true
        }
        return false
    }

    private static let names: [StaticString] = ["actor", "role", "action", "target", "outcome", "request_id"]

    /// Checks one entry line; `canon` holds hash_{n-1} in its first 32 bytes, then entry_n is built after it.
    private mutating func entry(_ p: UnsafeBufferPointer<UInt8>) throws {
        var seq: Int64?
        var time: Int64?
        var envelope: FlatJSON.Value?
        var reason: FlatJSON.Value?
        var stored: FlatJSON.Value?
        for k in 0..<6 { slots[k] = nil }
        let expected = next
        func bad(_ why: String) -> AuditVerificationFailure { AuditVerificationFailure(seq: expected, why) }
        for f in fields {
            var known = true
            switch f.key.count {
            case 3 where FlatJSON.key(f, is: "seq", in: p):
                guard case .int(let v) = f.value else {
                    known = false
                    break
                }
                seq = v
            case 4 where FlatJSON.key(f, is: "type", in: p): break
            case 4 where FlatJSON.key(f, is: "hash", in: p): stored = f.value
            case 7 where FlatJSON.key(f, is: "time_ms", in: p):
                guard case .int(let v) = f.value else {
                    known = false
                    break
                }
                time = v
            case 13 where FlatJSON.key(f, is: "envelope_hash", in: p): envelope = f.value
            case 13 where FlatJSON.key(f, is: "reason_sealed", in: p): reason = f.value
            default:
                if let i = Self.names.firstIndex(where: { FlatJSON.key(f, is: $0, in: p) }) {
                    slots[i] = f.value
                } else {
                    known = false
                }
            }
            guard known else { throw bad("export line \(exportLine) has an unexpected or mistyped field") }
        }
        guard let seq else { throw bad("export line \(exportLine) has no integer `seq`") }
        guard seq == expected else {
            throw bad(
                seq > expected
                    ? "entry missing: the next entry in the export has seq \(seq) (deleted or reordered)"
                    : "entry out of order: seq \(seq) appears after seq \(expected - 1) (reordered or duplicated)")
        }
        guard let time, time >= 0 else { throw bad("`time_ms` is missing or negative") }
        canon.removeSubrange(32...)
        Self.appendU32(8, to: &canon)
        Self.appendU64(UInt64(seq), to: &canon)
        Self.appendU32(8, to: &canon)
        Self.appendU64(UInt64(time), to: &canon)
        for i in 0..<6 {
            guard let v = slots[i], let n = FlatJSON.length(v) else {
                throw bad("`\(Self.names[i])` is missing or not a string")
            }
            Self.appendU32(UInt32(n), to: &canon)
            _ = FlatJSON.append(v, in: p, to: &canon)
            if i == 4 {
                let outcome = canon.suffix(n)
                guard ["allowed", "denied", "error"].contains(where: { $0.utf8.elementsEqual(outcome) }) else {
                    throw bad("`outcome` is not allowed, denied or error")
                }
            }
        }
        switch envelope {
        case .null: Self.appendU32(0, to: &canon)
        case .span(let r) where r.count == 64:
            Self.appendU32(32, to: &canon)
            guard Hex.decode(UnsafeBufferPointer(rebasing: p[r]), appendingTo: &canon) else {
                throw bad("`envelope_hash` is neither null nor 64 hex digits")
            }
        case .none: throw bad("`envelope_hash` is missing")
        default: throw bad("`envelope_hash` is neither null nor 64 hex digits")
        }
        switch reason {
        case .null: Self.appendU32(0, to: &canon)
        case .some(let v):
            guard let s = FlatJSON.bytes(v, in: p), let d = Data(base64Encoded: Data(s)) else {
                throw bad("`reason_sealed` is neither null nor base64")
            }
            Self.appendU32(UInt32(d.count), to: &canon)
            canon.append(contentsOf: d)
        case .none: throw bad("`reason_sealed` is missing")
        }
        guard case .span(let h) = stored, h.count == 64 else { throw bad("`hash` is missing or not 64 hex digits") }
        let computed = Hashing.blake2b(canon)
        guard hexEquals(UnsafeBufferPointer(rebasing: p[h]), computed) else {
            throw bad("the entry does not hash to its stored hash: a field was edited, or the chain before it broken")
        }
        canon.replaceSubrange(0..<32, with: computed)
        hashes.append(contentsOf: computed)
        next += 1
    }

    @inline(__always) static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always) static func appendU64(_ v: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// True when lowercase hex `s` spells the 32 bytes of `bytes`.
    private mutating func hexEquals(_ s: UnsafeBufferPointer<UInt8>, _ bytes: [UInt8]) -> Bool {
        guard s.count == 64, bytes.count == 32 else { return false }
        bytes.withUnsafeBufferPointer { b in
            expectedHex.withUnsafeMutableBufferPointer { Hex.encode(b, into: $0) }
        }
        return expectedHex.withUnsafeBufferPointer { memcmp($0.baseAddress!, s.baseAddress!, 64) == 0 }
    }
}
