import Foundation
import Logging
import Synchronization

/// The log handler `serve` bootstraps: swift-log's `StreamLogHandler` line format, byte for byte
/// (`TIME LEVEL LABEL: k=v … [SOURCE] MESSAGE`, metadata sorted by key, local time to the second), built with less
/// work per line. With a request line per relay message, `StreamLogHandler` cost about 20 µs of CPU per request
/// here: it re-renders the metadata whenever a key is set (Hummingbird sets the request id on every request's
/// logger), formats the time with a fresh buffer per line and writes through stdio. This handler renders metadata
/// only for lines it emits, formats the time once per second, and writes each line with one `write(2)` (in order,
/// under a lock), so nothing is held back at a crash.
public struct LineLogHandler: LogHandler {
    /// Where lines go: a file descriptor, written whole under a lock (standard error for `serve`).
    public final class Output: Sendable {
        private let descriptor: Mutex<Int32>
        private let clock = Mutex<(second: Int, text: [UInt8])>((-1, []))

        public init(descriptor: Int32) { self.descriptor = Mutex(descriptor) }

        /// `%Y-%m-%dT%H:%M:%S%z` in local time, as `StreamLogHandler` writes it; recomputed when the second changes.
        func timestamp(into line: inout [UInt8]) {
            var now = time(nil)
            let text = clock.withLock { cached -> [UInt8] in
                if cached.second == now { return cached.text }
                var parts = tm()
                var buffer = [Int8](repeating: 0, count: 64)
                guard localtime_r(&now, &parts) != nil else { return Array("<unknown>".utf8) }
                let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
                cached = (now, buffer[..<n].map { UInt8(bitPattern: $0) })
                return cached.text
            }
            line.append(contentsOf: text)
        }

        func write(_ line: [UInt8]) {
            descriptor.withLock { fd in
                line.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n > 0 {
                            offset += n
                        } else if n < 0 && errno == EINTR {
                            continue
                        } else {
                            return  // a closed or full stderr must not stop the server; the line is dropped
                        }
                    }
                }
            }
        }
    }

    private let label: String
    private let output: Output
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:]

    public init(label: String, output: Output, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, new in new }
        }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        output.timestamp(into: &line)
        line.append(0x20)
        line.append(contentsOf: event.level.rawValue.utf8)
        if !label.isEmpty {
            line.append(0x20)
            line.append(contentsOf: label.utf8)
        }
        line.append(UInt8(ascii: ":"))
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(0x20)
            line.append(contentsOf: key.utf8)
            line.append(UInt8(ascii: "="))
            line.append(contentsOf: value.description.utf8)
        }
        line.append(contentsOf: " [".utf8)
        line.append(contentsOf: event.source.utf8)
        line.append(contentsOf: "] ".utf8)
        line.append(contentsOf: event.message.description.utf8)
        line.append(0x0a)
        output.write(line)
    }
}
