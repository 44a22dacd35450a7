import Foundation
import GRDB
import VaultCore

/// `consultvault-bench seed-stats DIR DESK CASES`: writes CASES closed cases for ops/bench/stats straight into the
/// tables the statistics read (cases, epochs, message rows with placeholder bodies, coded records), spread over
/// November 2026 in Asia/Tokyo: per case two inbound messages and one staff reply, a record on 80 % of them.
/// Statistics never open an envelope, so placeholder bodies measure the same work; nothing here is a real vault.
enum StatsSeed {
    static func run(_ args: [String]) throws {
        guard args.count >= 5, let count = Int(args[4]) else {
            FileHandle.standardError.write(Data("usage: consultvault-bench seed-stats DIR DESK CASES\n".utf8))
            exit(64)
        }
        let vault = try Vault.open(at: URL(fileURLWithPath: args[2]))
        let started = Date()
        try vault.database.writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.inTransaction {
                guard let desk = try Data.fetchOne(db, sql: "SELECT id FROM desks WHERE name = ?", arguments: [args[3]])
                else { throw VaultError(.notFound, "no desk \(args[3])") }
                let start: Int64 = 1_793_458_800_000  // 2026-11-01T00:00+09:00
                let month: Int64 = 30 * 86_400_000
                let categories = ["bullying", "family", "friends", "suicidal", "school_refusal", "health"]
                let ages = ["elementary", "junior_high", "high_school", "age_20s"]
                var rng = SystemRandomNumberGenerator()
                let zero32 = Data(repeating: 0, count: 32)
                for i in 0..<count {
                    let opened = start + Int64(i) * month / Int64(count)
                    let caseID = Data(ID.v7(milliseconds: opened).bytes)
                    let epoch = Data(ID.v4().bytes)
                    var routing = Data(count: 32)
                    withUnsafeBytes(of: UInt64(i % (count / 3 + 1))) { routing.replaceSubrange(0..<8, with: $0) }
                    let reply = opened + Int64.random(in: 10_000...3_600_000, using: &rng)
                    let second = reply + Int64.random(in: 10_000...600_000, using: &rng)
                    let closed = second + 60_000
                    try db.execute(
                        sql: """
                            INSERT INTO cases (id, desk_id, routing_id, status, opened_at, closed_at, last_message_at,
                                last_inbound_at, message_count, inbound_count, channel_user_oversight, channel_user_case)
                            VALUES (?, ?, ?, 'closed', ?, ?, ?, ?, 3, 2, x'00', x'00')
                            """, arguments: [caseID, desk, routing, opened, closed, second, second])
                    try db.execute(
                        sql: """
                            INSERT INTO case_epochs (key_id, case_id, epoch, public_key, signature, created_at)
                            VALUES (?, ?, 0, ?, ?, ?)
                            """, arguments: [epoch, caseID, zero32, zero32 + zero32, opened])
                    for (seq, direction, author, at) in [
                        (1, "inbound", "channel", opened), (2, "outbound", "sup", reply),
                        (3, "inbound", "channel", second),
                    ] {
                        try db.execute(
                            sql: """
                                INSERT INTO messages (id, case_id, seq, desk_id, epoch_key_id, direction, kind, author,
                                    sent_at, body, sealed_key, envelope_hash, written_by, created_at)
                                VALUES (?, ?, ?, ?, ?, ?, 'text', ?, ?, zeroblob(500), zeroblob(155), ?, 'bench', ?)
                                """,
                            arguments: [
                                Data(ID.v7(milliseconds: at).bytes), caseID, seq, desk, epoch, direction, author, at,
                                zero32, at,
                            ])
                    }
                    if i % 5 != 0 {
                        try db.execute(
                            sql: """
                                INSERT INTO case_records (case_id, desk_id, age_band, gender, outcome, updated_at, updated_by)
                                VALUES (?, ?, ?, ?, 'concluded', ?, 'sup')
                                """,
                            arguments: [caseID, desk, ages[i % ages.count], i % 2 == 0 ? "female" : "male", closed])
                        try db.execute(
                            sql:
                                "INSERT INTO case_record_codes (case_id, desk_id, kind, code) VALUES (?, ?, 'category', ?)",
                            arguments: [caseID, desk, categories[i % categories.count]])
                    }
                }
                return .commit
            }
            _ = try db.checkpoint(.truncate)
        }
        print("seeded \(count) cases in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
