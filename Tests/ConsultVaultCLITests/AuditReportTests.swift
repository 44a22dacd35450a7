import Foundation
import Testing
import VaultCrypto
import VaultTestSupport

@testable import VaultCore
@testable import consultvault

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Collects elements by id and class from the report (the template is well-formed XHTML).
final class ReportScan: NSObject, XMLParserDelegate {
    var ids: Set<String> = []
    var classes: [String: Int] = [:]
    var barsInChart = 0
    var inChart = false
    var text = ""

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if let id = attributes["id"] { ids.insert(id) }
        if let c = attributes["class"] { classes[c, default: 0] += 1 }
        if name == "svg", attributes["id"] == "accesses-chart" { inChart = true }
        if inChart, name == "rect", attributes["class"] == "bar" { barsInChart += 1 }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "svg" { inChart = false }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}

@Suite struct AuditReportTests {
    @Test(
        "the report renders: chart bars per actor per day, break-glass with reason and review, denials, unlock failures; all escaped"
    )
    func renders() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let hostile = "<img src=x onerror=alert(1)>"
        _ = try? await f.vault.unlock(username: hostile, passphrase: "wrong passphrase", address: "t", requestID: "r")
        _ = try? await f.vault.unlock(username: "cou1", passphrase: "wrong passphrase", address: "t", requestID: "r")
        let seq = try await AuditTestSupport.breakGlass(f, reason: "緊急: <b>self-harm</b> risk & \"now\"")
        try await AuditTestSupport.breakGlass(f, reason: "second")
        let aud = try await f.unlock("aud")
        _ = try await f.vault.reviewBreakGlass(seq: seq, comment: "justified", as: aud, requestID: "r")
        let cou = try await f.unlock("cou1")
        _ = try? await f.vault.auditEvents(AuditEventQuery(), as: cou, requestID: "r")
        let now = f.vault.clock.milliseconds()
        let report = try await f.vault.auditReport(since: now - 86_400_000, until: now + 1, as: aud, requestID: "r")
        let html = try report.html()
        #expect(!html.contains(hostile))
        #expect(!html.contains("<b>self-harm"))
        #expect(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("<link"))
        let scan = ReportScan()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = scan
        #expect(parser.parse(), "the report is not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(scan.ids.isSuperset(of: ["accesses-chart", "accesses", "break-glass", "denied", "unlock-failures"]))
        #expect(scan.barsInChart >= 3)
        #expect(scan.classes["break-glass"] == 2)
        #expect(scan.classes["reviewed"] == 1)
        #expect(scan.classes["pending"] == 1)
        #expect((scan.classes["unlock-failure"] ?? 0) == 2)
        #expect((scan.classes["denied"] ?? 0) >= 1)  // the counselor's attempt to read the log
        #expect(scan.text.contains("緊急: <b>self-harm</b> risk & \"now\""))  // decrypted, shown as text
        #expect(!scan.text.contains(hostile))  // an unknown username is logged as `user:?`, never as typed
        #expect(scan.text.contains("justified"))
        #expect(scan.text.contains("Log verification: ok:"))
    }
}
