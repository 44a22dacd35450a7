import Foundation
import VaultCore
import VaultCrypto

/// `consultvault-bench seed-media DIR DESK RELAY_TOKEN COUNT BYTES [USERS]`: for ops/bench/handback, COUNT LINE image
/// messages of BYTES each through the real paths (a signed webhook, then the content upload in secretstream chunks),
/// from channel users `Useed0`… (the same users as `seed`, so the images land in its cases). Sets the desk's LINE
/// channel secret to a bench value first.
enum MediaSeed {
    static func run(_ args: [String]) async throws {
        guard args.count >= 7, let count = Int(args[5]), let bytes = Int(args[6]) else {
            FileHandle.standardError.write(
                Data("usage: consultvault-bench seed-media DIR DESK RELAY_TOKEN COUNT BYTES [USERS]\n".utf8))
            exit(64)
        }
        let users = args.count > 7 ? Int(args[7]) ?? 1000 : 1000
        let desk = args[3]
        let vault = try Vault.open(at: URL(fileURLWithPath: args[2]))
        guard let relay = try await vault.authenticateRelay(args[4]) else {
            FileHandle.standardError.write(Data("unknown relay token\n".utf8))
            exit(1)
        }
        let secret = Array("bench-line-secret-0123456789abcd".utf8)
        try await vault.setLineSecret(desk: desk, secret: try SecretBytes(copying: secret), caller: .cli())
        let started = Date()
        let run = ID.v4().description.prefix(8)
        var payload = [UInt8](repeating: 0, count: bytes)
        for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let image = payload
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for i in stride(from: worker, to: count, by: 4) {
                        let event =
                            #"{"type":"message","mode":"active","timestamp":1795000000123,"#
                            + #""source":{"type":"user","userId":"Useed\#(i % users)"},"#
                            + #""webhookEventId":"media-\#(run)-\#(i)","#
                            + #""message":{"type":"image","id":"img-\#(run)-\#(i)","contentProvider":{"type":"line"}}}"#
                        let body = Array(#"{"destination":"Ubench","events":[\#(event)]}"#.utf8)
                        let signature = Data(Hashing.hmacSHA256(body, key: try SecretBytes(copying: secret)))
                            .base64EncodedString()
                        let result = try await vault.lineWebhook(
                            desk: desk, body: body, signature: signature, relay: relay, requestID: "seed-media")
                        guard let pending = result.contentPending.first else {
                            throw VaultError(.internalError, "the image event was not accepted")
                        }
                        let upload = try await vault.beginContent(
                            messageID: pending.messageID, contentType: "image/jpeg", limit: bytes, relay: relay,
                            requestID: "seed-media")
                        var offset = 0
                        while offset < image.count {
                            let end = min(image.count, offset + (1 << 20))
                            try await upload.append(Array(image[offset..<end]))
                            offset = end
                        }
                        _ = try await upload.finish()
                    }
                }
            }
            try await group.waitForAll()
        }
        try await vault.database.writer.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        let seconds = Date().timeIntervalSince(started)
        print("seeded \(count) images of \(bytes) bytes in \(String(format: "%.1f", seconds)) s")
    }
}
