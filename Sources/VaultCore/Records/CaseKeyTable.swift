import VaultCrypto

/// A case id as two integers, read from the row's bytes without allocating (the statistics' per-message key).
struct CaseKey: Hashable, Sendable {
    let high: UInt64
    let low: UInt64
}

/// Case ids to dense positions 0, 1, 2… in the order they were first seen: the statistics pass looks one up per
/// message (300,000 for a month of 100,000 cases), where `Dictionary`'s SipHash cost more than the SQL step.
/// Open addressing with linear probing over a power-of-two table kept at most half full; the slot comes from both
/// halves of the id mixed with a per-table random seed, so ids chosen by a database writer cannot be lined up to
/// collide (UUIDv7 ids are random in their low 74 bits anyway).
struct CaseKeyTable: Sendable {
    private var keys: [CaseKey]
    private var positions: [Int32]  // -1: empty slot
    private var mask: Int
    private let seed: UInt64
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: CaseKey(high: 0, low: 0), count: size)
        positions = Array(repeating: -1, count: size)
        mask = size - 1
        seed = SecureRandom.bytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } | 1
    }

    private func slot(_ key: CaseKey) -> Int {
        var h = (key.high ^ seed) &* 0x9E37_79B9_7F4A_7C15
        h ^= key.low
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
    }

    /// The key's position, or nil if it was never inserted.
    func position(of key: CaseKey) -> Int? {
        var i = slot(key)
        while true {
            let p = positions[i]
            if p < 0 { return nil }
            if keys[i] == key { return Int(p) }
            i = (i + 1) & mask
        }
    }

    /// The key's position, inserting it (as position `count`) when it is new.
    mutating func insert(_ key: CaseKey) -> (position: Int, inserted: Bool) {
        if (count + 1) * 2 > positions.count { grow() }
        var i = slot(key)
        while true {
            let p = positions[i]
            if p < 0 {
                keys[i] = key
                positions[i] = Int32(count)
                count += 1
                return (count - 1, true)
            }
            if keys[i] == key { return (Int(p), false) }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldPositions = positions
        keys = Array(repeating: CaseKey(high: 0, low: 0), count: oldKeys.count * 2)
        positions = Array(repeating: -1, count: oldKeys.count * 2)
        mask = keys.count - 1
        for (k, p) in zip(oldKeys, oldPositions) where p >= 0 {
            var i = slot(k)
            while positions[i] >= 0 { i = (i + 1) & mask }
            keys[i] = k
            positions[i] = p
        }
    }
}
