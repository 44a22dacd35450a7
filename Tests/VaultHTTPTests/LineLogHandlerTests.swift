import Foundation
import Logging
import Testing
import VaultHTTP

/// `serve`'s log handler must write exactly the lines swift-log's StreamLogHandler writes.
@Suite struct LineLogHandlerTests {
    final class Captured: TextOutputStream, @unchecked Sendable {
        var text = ""
        func write(_ string: String) { text += string }
    }

    struct Boom: Error, CustomStringConvertible { var description: String { "disk on fire" } }

    /// Reads what a LineLogHandler wrote to a pipe.
    static func lines(_ body: (inout Logger) -> Void, label: String) throws -> String {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        var logger = Logger(label: label) { LineLogHandler(label: $0, output: .init(descriptor: fds[1])) }
        logger.logLevel = .trace
        body(&logger)
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    /// Drops the leading timestamp of each line (the two handlers may straddle a second).
    static func withoutTime(_ text: String) -> [Substring] {
        text.split(separator: "\n").map { $0.drop(while: { $0 != " " }) }
    }

    @Test("the same lines as StreamLogHandler: levels, labels, metadata merged and sorted, errors, no metadata")
    func sameAsStreamLogHandler() throws {
        let scenario: (inout Logger) -> Void = { logger in
            logger.info("started")
            logger[metadataKey: "hb.request.id"] = "c933ecc"
            logger.info("Request", metadata: ["hb.request.method": "POST", "hb.request.path": "/v1/messages"])
            logger.warning("相談 🙏 \"quoted\"", metadata: ["list": ["a", "b"], "dict": ["k": "v"], "a": "1"])
            logger.error("failed", error: Boom(), metadata: ["hb.request.id": "override"])
            logger[metadataKey: "hb.request.id"] = nil
            logger.debug("done", source: "custom.source")
        }
        for label in ["consultvault", ""] {
            let captured = Captured()
            var reference = Logger(label: label) { StreamLogHandler(label: $0, stream: captured) }
            reference.logLevel = .trace
            scenario(&reference)
            let ours = try Self.lines(scenario, label: label)
            #expect(Self.withoutTime(ours) == Self.withoutTime(captured.text))
            #expect(Self.withoutTime(ours).count == 5)
            let time = try #require(ours.split(separator: " ").first)
            #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/) != nil, "\(time)")
        }
    }
}
