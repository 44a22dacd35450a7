import Foundation
import Hummingbird

// The baseline of ops/bench/ingest (not installed, not part of the CLI): a Hummingbird server on the same stack as
// `serve` that does no work. `POST /v1/messages` reads the body (up to serve's default limit) and answers a 201 of
// the vault's shape; nothing is parsed, sealed or stored. The ingest rate is reported as a ratio of this one's, both
// driven by the same wrk settings in the same run.
//
//   consultvault-echo PORT

let args = CommandLine.arguments
guard args.count == 2, let port = Int(args[1]) else {
    FileHandle.standardError.write(Data("usage: consultvault-echo PORT\n".utf8))
    exit(64)
}
let answer =
    #"{"case_id":"01a1ee56-5e00-7000-8000-000000000000","duplicate":false,"message_id":"01a1ee56-5e00-7000-8000-000000000001"}"#
let router = Router()
router.post("/v1/messages") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 262_144)
    return Response(
        status: .created, headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
}
router.get("/healthz") { _, _ -> HTTPResponse.Status in .ok }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
