import Testing

@testable import VaultCore

/// The statistics' case table: dense positions in first-seen order, across growth, against a `Dictionary`.
@Suite struct CaseKeyTableTests {
    @Test("positions are dense and stable in first-seen order, across growth; absent keys are absent")
    func matchesDictionary() {
        var table = CaseKeyTable(capacity: 4)
        var reference: [CaseKey: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        // Random keys, keys that differ in one half only, and repeats of earlier keys.
        var keys: [CaseKey] = (0..<5000).map { _ in CaseKey(high: generator.next(), low: generator.next()) }
        keys += (0..<500).map { CaseKey(high: 7, low: UInt64($0)) }
        keys += (0..<500).map { CaseKey(high: UInt64($0), low: 7) }
        keys += keys.shuffled().prefix(3000)
        for key in keys {
            let (position, inserted) = table.insert(key)
            if let known = reference[key] {
                #expect(!inserted)
                #expect(position == known)
            } else {
                #expect(inserted)
                #expect(position == reference.count)
                reference[key] = position
            }
        }
        #expect(table.count == reference.count)
        for (key, position) in reference { #expect(table.position(of: key) == position) }
        for _ in 0..<1000 {
            let absent = CaseKey(high: generator.next(), low: generator.next())
            #expect(table.position(of: absent) == reference[absent])
        }
        #expect(CaseKeyTable(capacity: 0).position(of: CaseKey(high: 0, low: 0)) == nil)
    }
}
