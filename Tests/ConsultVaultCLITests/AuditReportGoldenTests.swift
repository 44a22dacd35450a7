import Foundation
import Testing

@testable import VaultCore
@testable import consultvault

/// The page `audit report` writes, pinned byte for byte: Vectors/ were written by the renderer while it still
/// lived in VaultCore, so these prove the move to the CLI changed no byte.
@Suite struct AuditReportGoldenTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")

    @Test("a full report (ten actors folded to eight series, break-glass, denials, hostile text) renders as pinned")
    func full() throws {
        let expected = try Data(contentsOf: Self.vectors.appendingPathComponent("audit-report-full.html"))
        #expect(Data(try ReportSamples.full.html().utf8) == expected)
    }

    @Test("an empty report with a failed verification renders as pinned")
    func empty() throws {
        let expected = try Data(contentsOf: Self.vectors.appendingPathComponent("audit-report-empty.html"))
        #expect(Data(try ReportSamples.empty.html().utf8) == expected)
    }
}
