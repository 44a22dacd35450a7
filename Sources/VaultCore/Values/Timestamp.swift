import Foundation

/// RFC 3339 timestamps with millisecond precision, parsed and formatted without locale machinery.
public enum Timestamp {
    /// Parses an RFC 3339 time with offset (`Z` or `±hh:mm`); refuses precision finer than 1 ms.
    public static func parse(_ s: String) -> Int64? {
        let c = Array(s.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= c.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                guard c[i] >= 48, c[i] <= 57 else { return nil }
                v = v * 10 + Int(c[i] - 48)
            }
            return v
        }
        guard c.count >= 20, c[4] == 45, c[7] == 45, c[10] == 84 || c[10] == 116, c[13] == 58, c[16] == 58,
            let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
            let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var millis = 0
        if i < c.count, c[i] == 46 {
            i += 1
            var digits = 0
            while i < c.count, c[i] >= 48, c[i] <= 57 {
                if digits < 3 {
                    millis = millis * 10 + Int(c[i] - 48)
                } else if c[i] != 48 {
                    return nil  // finer than a millisecond
                }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { millis *= 10 }
        }
        guard i < c.count else { return nil }
        var offset = 0
        if c[i] == 90 || c[i] == 122 {
            i += 1
        } else if c[i] == 43 || c[i] == 45 {
            guard i + 6 == c.count, c[i + 3] == 58, let oh = num(i + 1, 2), let om = num(i + 4, 2), oh < 24, om < 60
            else { return nil }
            offset = (oh * 60 + om) * (c[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == c.count, day <= daysIn(month: month, year: year) else { return nil }
        let days = daysFromCivil(year, month, day)
        let secs = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset * 60)
        return secs * 1000 + Int64(millis)
    }

    /// Formats as RFC 3339 UTC with milliseconds, e.g. `2026-11-22T00:00:00.123Z`.
    public static func format(_ ms: Int64) -> String {
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let rem = Int(ms - secs * 1000)
        var days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = Int(secs - days * 86_400)
        // civil from days (Howard Hinnant)
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        if (0...9999).contains(y) {
            // Every message of a transcript page is formatted: one buffer, no intermediate strings.
            return String(unsafeUninitializedCapacity: 24) { out in
                var i = 0
                func digits(_ v: Int, _ w: Int) {
                    var v = v
                    for k in stride(from: w - 1, through: 0, by: -1) {
                        out[i + k] = UInt8(ascii: "0") + UInt8(v % 10)
                        v /= 10
                    }
                    i += w
                }
                func char(_ c: Unicode.Scalar) {
                    out[i] = UInt8(ascii: c)
                    i += 1
                }
                digits(Int(y), 4)
                char("-")
                digits(Int(m), 2)
                char("-")
                digits(Int(d), 2)
                char("T")
                digits(sod / 3600, 2)
                char(":")
                digits(sod / 60 % 60, 2)
                char(":")
                digits(sod % 60, 2)
                char(".")
                digits(rem, 3)
                char("Z")
                return i
            }
        }
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(Int(y), 4))-\(pad(Int(m), 2))-\(pad(Int(d), 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):"
            + "\(pad(sod % 60, 2)).\(pad(rem, 3))Z"
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
