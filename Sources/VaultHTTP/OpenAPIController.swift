import Foundation
import Hummingbird

/// `GET /openapi.yaml`: the API description (schema/openapi.yaml), shipped as a resource next to the binary
/// (`consultvault_VaultHTTP.resources/`, or `../share/consultvault/` for an installed binary).
struct OpenAPIController {
    static let document: Data? = {
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("consultvault_VaultHTTP.resources/openapi.yaml"),
            exe.appendingPathComponent("consultvault_VaultHTTP.resources/openapi.yaml"),
            exe.appendingPathComponent("../share/consultvault/openapi.yaml"),
        ]
        return candidates.lazy.compactMap { FileManager.default.contents(atPath: $0.path) }.first
    }()

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/openapi.yaml") { _, _ -> Response in
            guard let doc = Self.document else {
                throw APIError(
                    .notFound, "not_found",
                    "openapi.yaml is not installed beside the binary; copy consultvault_VaultHTTP.resources next to it")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: doc)))
        }
    }
}
