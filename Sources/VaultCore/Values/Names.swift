/// The names people type and read in logs: usernames and relay token names.
///
/// Checked byte by byte, not with a regular expression: ICU's `$` also matches before a final line terminator,
/// which let `sato\u{2028}` (or U+0085, `\n`) pass as a name that prints like `sato`.
enum Names {
    static let rule = "1–64 characters of a–z, 0–9, '.', '_' or '-', starting with a letter or digit"

    /// True when `name` is 1–64 bytes of `a-z 0-9 . _ -` and starts with a letter or digit.
    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }
}
