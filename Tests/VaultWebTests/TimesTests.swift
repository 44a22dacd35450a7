import Foundation
import Testing

@testable import VaultWeb

/// The console's time format agrees with Foundation's calendar in zones with and without daylight saving time.
@Suite struct TimesTests {
    @Test("yyyy-MM-dd HH:mm as Calendar gives it, for 20,000 instants from 1900 to 2100 in four zones")
    func agreesWithCalendar() throws {
        var generator = SystemRandomNumberGenerator()
        let zones = ["Asia/Tokyo", "America/New_York", "Europe/London", "UTC"].compactMap(TimeZone.init(identifier:))
        #expect(zones.count == 4)
        for i in 0..<20_000 {
            let ms = i == 0 ? 0 : Int64.random(in: -2_208_988_800_000..<4_102_444_800_000, using: &generator)
            let zone = zones[i % zones.count]
            let c = Calendar(identifier: .gregorian).dateComponents(
                in: zone, from: Date(timeIntervalSince1970: Double(ms) / 1000))
            let expected = String(
                format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0,
                c.minute ?? 0)
            #expect(Times.format(ms, timeZone: zone) == expected, "\(ms) in \(zone.identifier)")
        }
        #expect(Times.format(1_796_000_000_000, timeZone: Times.tokyo) == "2026-11-30 09:53")
    }
}
