import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultCore
import VaultHTTP
import VaultTestSupport

@Suite struct OpenAPITests {
    /// "METHOD /path" with every path parameter written `{}`, from the router or from openapi.yaml.
    static func normalize(_ method: String, _ path: String) -> String {
        let parts = path.split(separator: "/").map { p -> String in
            p.hasPrefix(":") || (p.hasPrefix("{") && p.hasSuffix("}")) ? "{}" : String(p)
        }
        return "\(method.uppercased()) /" + parts.joined(separator: "/")
    }

    static func documented() throws -> Set<String> {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../schema/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        var out = Set<String>()
        var path: String?
        var inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            if inPaths, !line.isEmpty, !line.hasPrefix(" "), !line.hasPrefix("#") { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let p = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let m = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(String(m)) {
                    out.insert(normalize(String(m), p))
                }
            }
        }
        return out
    }

    @Test("every route the router has is in openapi.yaml and vice versa")
    func routesMatchDocument() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let router = buildRouter(vault: f.vault, configuration: ServeConfiguration())
        let actual = Set(router.routes.map { Self.normalize($0.method.rawValue, "\($0.path)") })
        let documented = try Self.documented()
        #expect(actual.count > 30)
        #expect(actual.subtracting(documented).sorted() == [], "routes missing from openapi.yaml")
        #expect(documented.subtracting(actual).sorted() == [], "documented routes the router does not have")
    }

    @Test("GET /openapi.yaml serves the document")
    func served() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await makeApp(f).test(.router) { client in
            let body = try await client.execute(uri: "/openapi.yaml", method: .get) { r in
                #expect(r.status == .ok)
                return String(buffer: r.body)
            }
            #expect(body.hasPrefix("openapi: 3.1"))
        }
    }
}
