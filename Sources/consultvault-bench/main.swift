import Foundation
import VaultCore

// Benchmark helper (not installed, not part of the CLI): seeds a vault with N inbound messages through the
// ordinary ingest path (group commit, sealed envelopes, access-log entries), in process, for ops/bench/scale.
// CONSULTVAULT_SEED_CONCURRENCY sets the writes in flight (default 512: group-commit batches fill to 256);
// CONSULTVAULT_SEED_CACHE_MIB the helper's page cache (default 256); CONSULTVAULT_SEED_DURABLE=1 keeps an fsync
// per batch.
//
//   consultvault-bench seed DIR DESK RELAY_TOKEN COUNT [USERS]
//   consultvault-bench seed-media DIR DESK RELAY_TOKEN COUNT BYTES [USERS]   (ops/bench/handback)

let args = CommandLine.arguments
if args.count >= 2, args[1] == "seed-stats" {
    try StatsSeed.run(args)
    exit(0)
}
if args.count >= 2, args[1] == "seed-media" {
    try await MediaSeed.run(args)
    exit(0)
}
guard args.count >= 6, args[1] == "seed", let count = Int(args[5]) else {
    FileHandle.standardError.write(Data("usage: consultvault-bench seed DIR DESK RELAY_TOKEN COUNT [USERS]\n".utf8))
    exit(64)
}
let users = args.count > 6 ? Int(args[6]) ?? 1000 : 1000
let vault = try Vault.open(at: URL(fileURLWithPath: args[2]))
guard let relay = try await vault.authenticateRelay(args[4]) else {
    FileHandle.standardError.write(Data("unknown relay token\n".utf8))
    exit(1)
}
// Seeding is setup, not a measurement, so the helper's own connection is tuned for bulk: no fsync per batch (the run
// ends with a checkpoint and ops/bench/scale runs `sync` before measuring) and a 256 MiB page cache (with thousands
// of cases every batch touches thousands of index leaves; the first 300k seeded at 4,488/s against 4,160/s with
// SQLite's 2 MB default). The server measured afterwards opens the database with its own, unchanged settings.
let env = ProcessInfo.processInfo.environment
try vault.database.writer.writeWithoutTransaction { db in
    if env["CONSULTVAULT_SEED_DURABLE"] != "1" { try db.execute(sql: "PRAGMA synchronous = OFF") }
    let mib = Int(env["CONSULTVAULT_SEED_CACHE_MIB"] ?? "") ?? 256
    try db.execute(sql: "PRAGMA cache_size = -\(mib * 1024)")
}
let text = String(repeating: "x", count: 500)
let started = Date()
let run = ID.v4().description.prefix(8)
let concurrency = max(1, Int(ProcessInfo.processInfo.environment["CONSULTVAULT_SEED_CONCURRENCY"] ?? "") ?? 512)
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<concurrency {
        group.addTask {
            var i = worker
            while i < count {
                _ = try await vault.ingest(
                    InboundText(
                        desk: args[3], channel: "line", channelUser: "Useed\(i % users)",
                        externalID: "seed-\(run)-\(i)",
                        sentAt: 1_795_000_000_000, text: text),
                    relay: relay, requestID: "seed")
                i += concurrency
            }
        }
    }
    try await group.waitForAll()
}
let seconds = Date().timeIntervalSince(started)
// Leave the database as a long-running vault would be: the bulk WAL folded back into the main file.
try vault.database.writer.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
print(
    "seeded \(count) messages in \(String(format: "%.1f", seconds)) s (\(Int(Double(count) / max(seconds, 0.001)))/s)")
