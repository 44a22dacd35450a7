/// One recipient stanza: `-> ARG…` then its body, base64 in lines of 64 columns ending with a shorter one.
struct AgeStanza: Sendable {
    var arguments: [String]
    var body: [UInt8]

    func encoded() -> [UInt8] {
        var out = Array("->".utf8)
        for a in arguments { out += [UInt8(ascii: " ")] + Array(a.utf8) }
        out.append(UInt8(ascii: "\n"))
        let text = AgeBase64.encode(body)
        var i = 0
        while true {
            let end = min(i + 64, text.count)
            out += text[i..<end] + [UInt8(ascii: "\n")]
            if end - i < 64 { break }
            i = end
        }
        return out
    }
}

/// The parsed header: stanzas, the MAC, and the exact bytes the MAC covers (through `---`).
struct AgeHeader {
    static let version = Array("age-encryption.org/v1".utf8)
    static let maxLine = 4096
    static let maxStanzas = 1024

    var stanzas: [AgeStanza]
    var mac: [UInt8]
    var macInput: [UInt8]

    /// Header bytes through `---` (what the MAC covers) for freshly made stanzas.
    static func macInput(for stanzas: [AgeStanza]) -> [UInt8] {
        var out = version + [UInt8(ascii: "\n")]
        for s in stanzas { out += s.encoded() }
        return out + Array("---".utf8)
    }

    /// Reads and strictly parses a header (every rule of the spec: canonical base64, 64-column body lines,
    /// a final short line, printable arguments, LF only).
    /// - Throws: `AgeError.header`.
    static func parse(_ reader: ByteReader) throws -> AgeHeader {
        var consumed: [UInt8] = []
        func line() throws -> ArraySlice<UInt8> {
            guard let l = try reader.readLine(limit: maxLine) else { throw AgeError(.header, "the header ends early") }
            consumed += l + [UInt8(ascii: "\n")]
            return l
        }
        guard try line().elementsEqual(version) else { throw AgeError(.header, "not age-encryption.org/v1") }
        var stanzas: [AgeStanza] = []
        while true {
            let l = try line()
            if l.starts(with: Array("---".utf8)) {
                let macInput = Array(consumed.dropLast(l.count + 1)) + Array("---".utf8)
                guard l.count == 47, l[l.startIndex + 3] == UInt8(ascii: " "),
                    let mac = AgeBase64.decode(l.dropFirst(4)), mac.count == 32
                else { throw AgeError(.header, "the MAC line is `--- ` and 43 base64 characters") }
                return AgeHeader(stanzas: stanzas, mac: mac, macInput: macInput)
            }
            guard l.starts(with: Array("-> ".utf8)) else {
                throw AgeError(.header, "a header line is neither a stanza nor the MAC")
            }
            let args = l.dropFirst(3).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard !args.isEmpty, args.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 33 && $0 <= 126 } }) else {
                throw AgeError(.header, "a stanza argument is empty or not printable ASCII")
            }
            var body: [UInt8] = []
            while true {
                let b = try line()
                guard b.count <= 64, let bytes = AgeBase64.decode(b) else {
                    throw AgeError(.header, "a stanza body line is not canonical base64 of at most 64 columns")
                }
                body += bytes
                if b.count < 64 { break }
            }
            stanzas.append(AgeStanza(arguments: args.map { String(decoding: $0, as: UTF8.self) }, body: body))
            guard stanzas.count <= maxStanzas else { throw AgeError(.header, "too many stanzas") }
        }
    }
}

/// Buffered reading over a `read(maxCount)` source that returns an empty array at the end.
final class ByteReader {
    private let source: (Int) throws -> [UInt8]
    private var buffer: [UInt8] = []
    private var position = 0
    private var ended = false

    init(_ source: @escaping (Int) throws -> [UInt8]) { self.source = source }

    private func fill(_ want: Int) throws {
        while buffer.count - position < want && !ended {
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            let more = try source(max(want - buffer.count, 64 * 1024))
            if more.isEmpty { ended = true } else { buffer += more }
        }
    }

    /// A line without its LF; nil at the end or when longer than `limit`.
    func readLine(limit: Int) throws -> ArraySlice<UInt8>? {
        var scanned = position
        while true {
            if let nl = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                guard nl - position <= limit else { return nil }
                let l = buffer[position..<nl]
                position = nl + 1
                return l
            }
            scanned = buffer.count
            guard buffer.count - position <= limit else { return nil }
            let before = buffer.count - position
            try fill(before + 1)
            if buffer.count - position == before { return nil }
            scanned = position + before
        }
    }

    /// Up to `count` bytes; fewer only at the end.
    func read(_ count: Int) throws -> [UInt8] {
        try fill(count)
        let n = min(count, buffer.count - position)
        let out = Array(buffer[position..<(position + n)])
        position += n
        return out
    }

    /// Whether nothing is left.
    func atEnd() throws -> Bool {
        try fill(1)
        return buffer.count == position
    }
}
