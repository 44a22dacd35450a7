import Foundation
import Hummingbird
import NIOCore
import VaultHTTP

/// The console's JavaScript modules and style sheet (`Resources/static`), read once at start and served by name;
/// nothing else is reachable (no paths, no directory listing).
struct Assets: Sendable {
    let files: [String: (type: String, bytes: [UInt8])]

    init() throws {
        guard let dir = Bundle.module.resourceURL?.appendingPathComponent("static") else {
            throw Pages.ResourceError(name: "static")
        }
        var files: [String: (type: String, bytes: [UInt8])] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let type: String
            switch (name as NSString).pathExtension {
            case "js": type = "text/javascript; charset=utf-8"
            case "css": type = "text/css; charset=utf-8"
            case "svg": type = "image/svg+xml"
            default: continue
            }
            files[name] = (type, Array(try Data(contentsOf: dir.appendingPathComponent(name))))
        }
        self.files = files
    }

    @Sendable func serve(_ request: Request, context: VaultRequestContext) async throws -> Response {
        guard let name = context.parameters.get("file"), let file = files[name] else { throw ConsoleError.notFound }
        return Response(
            status: .ok, headers: [.contentType: file.type],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
