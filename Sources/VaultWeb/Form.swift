import Foundation
import Hummingbird

/// An `application/x-www-form-urlencoded` body (or an empty one), read up to a limit.
struct Form: Sendable {
    private var fields: [String: String] = [:]

    init(fields: [String: String] = [:]) { self.fields = fields }

    subscript(_ name: String) -> String? { fields[name] }

    /// Reads and parses the body; a body over the limit is refused (413 through the middleware).
    /// - Throws: `ConsoleError.invalid` for a body that is not a form.
    static func read(_ request: Request, limit: Int) async throws -> Form {
        let buffer = try await request.body.collect(upTo: limit)
        guard let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes) else {
            throw ConsoleError.invalid("error_bad_form")
        }
        return try parse(text)
    }

    /// Parses `a=1&b=x+y`; the first value of a repeated field counts.
    static func parse(_ text: String) throws -> Form {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else {
                throw ConsoleError.invalid("error_bad_form")
            }
            if out[name] == nil { out[name] = value }
        }
        return Form(fields: out)
    }

    private static func decode(_ s: Substring) -> String? {
        String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
