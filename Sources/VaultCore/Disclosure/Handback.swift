import Foundation
import GRDB
import VaultCrypto

/// What a hand-back wrote.
public struct HandbackSummary: Sendable, Equatable {
    public let cases: Int
    public let messages: Int
    public let mediaFiles: Int
    /// The ZIP's size (the age file's plaintext).
    public let contentBytes: Int
    /// The age file's size and SHA-256.
    public let packageSize: Int
    public let packageSHA256: [UInt8]
}

/// The municipality's hand-back (issue 20, API.md "Disclosure and hand-back", schema/FORMAT.md §21): with the desk's
/// recovery secret (recombined from K shares by the caller), every case of the desk is opened through the key
/// hierarchy — recovery key → every generation of the desk's oversight and queue keys → the case epoch keys →
/// sender sessions (v2) or the sealed message keys (v1) — and written, with the access-log export and the vault's
/// verifier key, as a signed ZIP streamed straight into an age file to `recipient`. Recorded as `handback`
/// before anything is read; nothing of the plaintext touches the disk.
extension Vault {
    /// - Parameter progress: called after each case with (cases done, cases in all).
    /// - Throws: `.notFound` for an unknown desk; `.conflict` when `out` exists or the desk's recovery key was never
    ///   vouched for; `.forbidden` (recorded as a denied `handback`) when the secret is not this desk's recovery
    ///   key; `.integrity` when stored material fails its check (recorded as `handback` with outcome `error`; the
    ///   partial file is removed).
    public func handback(
        desk name: String, recoverySecret: SecretBytes, to recipient: AgeRecipient, out: URL, caller: Caller,
        progress: (Int, Int) -> Void = { _, _ in }
    ) async throws -> HandbackSummary {
        guard !FileManager.default.fileExists(atPath: out.path) else {
            throw VaultError(.conflict, "\(out.lastPathComponent) exists; choose a new file for the hand-back")
        }
        let recovery = try BoxKeyPair(secretKey: recoverySecret)
        let target = "desk:\(name)"
        let outcome: Result<(DeskState, [ID]), VaultError> = try await database.transaction { db in
            guard let desk = try self.desk(db, name: name) else { throw VaultError.notFound("no desk \(name)") }
            guard desk.recoveryVouched else {
                throw VaultError.conflict(
                    "no supervisor of \(name) has vouched for its recovery key (`desk accept`), so no desk secret is sealed to it"
                )
            }
            guard SecretBytes.constantTimeEquals(recovery.publicKey, desk.manifest.recoveryPublic) else {
                return try self.refuse(
                    db, caller, "handback", target,
                    .forbidden("these shares do not recombine to the recovery key of \(name)"))
            }
            let ids = try Data.fetchAll(
                db, sql: "SELECT id FROM cases WHERE desk_id = ? ORDER BY opened_at, id",
                arguments: [Data(desk.id.bytes)]
            ).map { data in
                guard let id = ID(bytes: Array(data)) else {
                    throw VaultError.integrity("a stored case id is malformed")
                }
                return id
            }
            // Logged before anything is read (DESIGN.md guarantee 5).
            try self.record(db, caller, "handback", "\(target) cases:\(ids.count)")
            return .success((desk, ids))
        }
        let (desk, caseIDs) = try outcome.get()
        // The recovery key acts as a reader holding only itself: every desk key it opens (in sodium_malloc memory)
        // is dropped with it at the end.
        let reader = UnlockedUser(
            keys: UserKeys(
                userID: desk.id, username: "recovery", role: .supervisor, boxPublic: recovery.publicKey,
                signPublic: []),
            box: recovery, signing: try SigningKeyPair.generate())
        defer { reader.forget() }
        let stream = try AgeFileStream(to: recipient, url: out)
        do {
            var contentBytes = 0
            let archive = PackageArchive { bytes in
                contentBytes += bytes.count
                try stream.write(bytes)
            }
            var messages = 0
            var media = 0
            for (i, caseID) in caseIDs.enumerated() {
                let files = try await database.read { db in
                    try self.handbackFiles(db, caseID: caseID, desk: desk, reader: reader)
                }
                for (path, bytes) in files.entries { try archive.add(path, bytes) }
                messages += files.messages
                media += files.media
                progress(i + 1, caseIDs.count)
            }
            var log: [UInt8] = []
            try await writeAuditExport { log += $0 }
            try archive.add("access-log.jsonl", log)
            try archive.add("vault-signing.pub", verifierKeyFile())
            try archive.close(signing: keys.signing)
            let written = try stream.commit()
            return HandbackSummary(
                cases: caseIDs.count, messages: messages, mediaFiles: media, contentBytes: contentBytes,
                packageSize: written.size, packageSHA256: written.sha256)
        } catch {
            stream.abandon()
            _ = try? await database.transaction { db in try self.record(db, caller, "handback", target, .error) }
            throw error
        }
    }

    /// keys/vault-signing.pub as it is on disk (the C2SP verifier key lines, §9).
    func verifierKeyFile() throws -> [UInt8] {
        let url = Self.keysDirectory(directory).appendingPathComponent("vault-signing.pub")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw VaultError(.storageUnavailable, "cannot read keys/vault-signing.pub")
        }
        return Array(data)
    }

    struct HandbackFiles: Sendable {
        var entries: [(String, [UInt8])] = []
        var messages = 0
        var media = 0
    }

    /// One case's files under `cases/{id}/`, opened with the recovery reader's keys in one read transaction.
    func handbackFiles(_ db: Database, caseID: ID, desk: DeskState, reader: UnlockedUser) throws -> HandbackFiles {
        guard let c = try findCase(db, id: caseID) else {
            throw VaultError.integrity("case \(caseID) does not load (its row fails its check)")
        }
        var epochs: [[UInt8]: BoxKeyPair] = [:]
        func epoch(_ keyID: [UInt8]) throws -> BoxKeyPair {
            if let known = epochs[keyID] { return known }
            let opened = try openEpoch(db, keyID: keyID, case: c, desk: desk, as: reader)
            epochs[keyID] = opened
            return opened
        }
        var sessions: [[UInt8]: SenderSessionKey] = [:]
        var messages: [TranscriptMessage] = []
        let cursor = try Row.fetchCursor(
            db, sql: Self.transcriptSelect + " WHERE m.case_id = ? ORDER BY m.seq", arguments: [Data(caseID.bytes)])
        while let row = try cursor.next() {
            let m = try StoredMessage(transcriptRow: row)
            let key = try epoch(m.epochKeyID)
            var session: SenderSessionKey?
            if let sid = m.sessionID {
                if let known = sessions[sid] {
                    session = known
                } else {
                    do {
                        session = try openSenderSession(
                            id: sid, caseID: caseID, epoch: key, publicKey: m.sessionPublicKey, as: reader)
                        sessions[sid] = session
                    } catch {
                        // As in a transcript read: a relay's session that does not open shows its messages as
                        // unreadable; one of the vault's means the database was altered.
                        if m.writtenBy?.hasPrefix("relay-sealed:") != true { throw error }
                    }
                }
            }
            messages.append(try Self.open(m, caseID: caseID, epoch: key, session: session, includeRetracted: true))
        }
        let prefix = "cases/\(caseID)/"
        var files = HandbackFiles(messages: messages.count)
        files.entries.append((prefix + "transcript.json", try PackageContent.transcriptJSON(caseID: caseID, messages)))
        files.entries.append(
            (prefix + "transcript.html", PackageContent.transcriptHTML(caseID: caseID, desk: desk.name, messages)))
        files.entries.append((prefix + "notes.json", try PackageContent.notesJSON(caseID: caseID, messages)))
        files.entries.append((prefix + "record.json", try recordFile(db, caseID)))
        files.entries.append((prefix + "grants.json", try grantsFile(db, caseID)))
        let contents = try Row.fetchAll(
            db,
            sql: """
                SELECT c.*, s.public_key AS session_public_key FROM message_content c
                JOIN messages m ON m.id = c.message_id LEFT JOIN sender_sessions s ON s.id = c.session_id
                WHERE m.case_id = ? AND c.state = 'complete' ORDER BY m.seq
                """, arguments: [Data(caseID.bytes)])
        for row in contents {
            guard let messageID = ID(bytes: Array(row["message_id"] as Data)) else {
                throw VaultError.integrity("a stored message id is malformed")
            }
            let stored = StoredContent(row: row)
            let puller = try contentPuller(
                stored, epoch: try epoch(stored.keyID), caseID: caseID, messageID: messageID, as: reader)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(stored.size)
            let chunks = try Data.fetchCursor(
                db, sql: "SELECT data FROM content_chunks WHERE message_id = ? ORDER BY idx",
                arguments: [Data(messageID.bytes)])
            var count = 0
            var final = false
            while let chunk = try chunks.next() {
                guard !final else { throw VaultError.integrity("stored content of \(messageID) runs past its end") }
                let (plain, last): ([UInt8], Bool)
                do { (plain, last) = try puller.pull(Array(chunk), aad: messageID.bytes) } catch {
                    throw VaultError.integrity("stored content of \(messageID) does not authenticate")
                }
                bytes += plain
                final = last
                count += 1
            }
            guard final, count == stored.chunkCount else {
                throw VaultError.integrity("stored content of \(messageID) is truncated")
            }
            files.entries.append(
                (PackageContent.mediaPath(prefix: prefix, messageID: messageID, contentType: stored.contentType), bytes)
            )
            files.media += 1
        }
        return files
    }

    /// grants.json: the case's time-limited grants (access requests and break-glass) and its access requests.
    func grantsFile(_ db: Database, _ caseID: ID) throws -> [UInt8] {
        func time(_ v: Int64?) -> JSONValue { v.map { .string(Timestamp.format($0)) } ?? .null }
        func id(_ d: Data?) -> JSONValue { d.flatMap { ID(bytes: Array($0)) }.map { .string($0.description) } ?? .null }
        let grants = try Row.fetchAll(
            db,
            sql: """
                SELECT g.id, g.kind, u.username, g.created_at, g.expires_at, g.expired, g.audit_seq, g.request_id
                FROM case_grants g JOIN users u ON u.id = g.user_id WHERE g.case_id = ? ORDER BY g.created_at, g.id
                """, arguments: [Data(caseID.bytes)]
        ).map { r -> [String: JSONValue] in
            [
                "id": id(r["id"]), "kind": .string(r["kind"]), "user": .string(r["username"]),
                "created_at": time(r["created_at"]), "expires_at": time(r["expires_at"]),
                "expired": .bool((r["expired"] as Int) != 0),
                "audit_seq": (r["audit_seq"] as Int64?).map { .int($0) } ?? .null,
                "request_id": id(r["request_id"]),
            ]
        }
        let requests = try Row.fetchAll(
            db,
            sql: """
                SELECT r.id, u.username, r.state, r.created_at, r.decided_by, r.decided_at
                FROM access_requests r JOIN users u ON u.id = r.requester_id WHERE r.case_id = ?
                ORDER BY r.created_at, r.id
                """, arguments: [Data(caseID.bytes)]
        ).map { r -> [String: JSONValue] in
            [
                "id": id(r["id"]), "requester": .string(r["username"]), "state": .string(r["state"]),
                "requested_at": time(r["created_at"]),
                "decided_by": (r["decided_by"] as String?).map { .string($0) } ?? .null,
                "decided_at": time(r["decided_at"]),
            ]
        }
        return try PackageContent.grantsJSON(caseID: caseID, grants: grants, requests: requests)
    }
}
