import Foundation
import GRDB
import VaultCrypto

/// A disclosure as supervisors and auditors see it. `reason` is opened with the desk's oversight key (supervisors)
/// or the auditors' key (auditors); nil when the caller holds neither.
public struct DisclosureSummary: Sendable, Equatable {
    public let id: ID
    public let caseID: ID
    public let desk: String
    public let state: String
    public let requester: String
    public let recipient: String
    public let recipientName: String
    public let requestedAt: Int64
    public let decidedBy: String?
    public let decidedAt: Int64?
    public let packageSize: Int?
    public let reviewer: String?
    public let reviewedAt: Int64?
    public let reason: String?
}

/// Disclosure packages (issue 20, API.md "Disclosure and hand-back"): a supervisor of the desk asks for one case to
/// be given to a named recipient's age key, another supervisor approves, the vault builds the package (age over a
/// ZIP, schema/FORMAT.md §21) and the requester downloads it once within 24 hours. Each step is recorded.
extension Vault {
    /// How long an approved package waits for its download.
    public static let disclosureLifetime: Int64 = 24 * 3600 * 1000
    /// The longest the approving supervisor's grant lasts while the package is built (`endBuildGrant` ends it
    /// once the package is written; the expiry sweep otherwise).
    static let disclosureBuildGrant: Int64 = 5 * 60 * 1000

    /// `DIR/disclosures/{id}.age`: the only place a package is stored, and only as age ciphertext.
    public func disclosurePackageURL(_ id: ID) -> URL {
        directory.appendingPathComponent("disclosures").appendingPathComponent("\(id).age")
    }

    /// A supervisor of the case's desk asks for a disclosure to `recipient` (an `age1…` key).
    /// - Throws: `.invalid` for a malformed recipient, an empty or oversize name or reason; `.notFound`; `.forbidden`
    ///   (recorded as a denied `disclosure.request`) for anyone but a supervisor of the desk.
    public func requestDisclosure(
        caseID: ID, recipient: String, recipientName: String, reason: String, as user: UnlockedUser, requestID: String
    ) async throws -> ID {
        guard (try? AgeRecipient(recipient)) != nil else {
            throw VaultError.invalid("`recipient` must be an age X25519 recipient (age1…, 62 characters)")
        }
        let name = recipientName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw VaultError.invalid("`recipient_name` must be 1–200 characters on one line")
        }
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.utf8.count <= 4096 else {
            throw VaultError.invalid("`reason` must be 1–4096 bytes")
        }
        let caller = user.caller(requestID: requestID)
        let id = ID.v4()
        let outcome: Result<ID, VaultError> = try await database.transaction { db in
            guard let c = try self.findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
            let desk = try self.desk(db, id: c.deskID)
            if case .denied(let e) = try self.mayRequestDisclosure(db, desk: desk, user) {
                return try self.refuse(db, caller, "disclosure.request", "case:\(caseID)", e)
            }
            try self.record(
                db, caller, "disclosure.request", "case:\(caseID) disclosure:\(id)", reason: reason, desk: desk)
            try db.execute(
                sql: """
                    INSERT INTO disclosures (id, case_id, desk_id, requester_id, recipient, recipient_name,
                        reason_sealed, state, requested_at, request_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [
                    Data(id.bytes), Data(caseID.bytes), Data(c.deskID.bytes), Data(user.id.bytes), recipient, name,
                    Data(try self.sealReason(reason, in: db, desk: desk)), self.now(), try AuditLog.headSeq(db),
                ])
            return .success(id)
        }
        return try outcome.get()
    }

    /// The disclosures of the desks this supervisor oversees (or of `desk`), newest first.
    /// - Throws: `.forbidden` (recorded as a denied `disclosure.list`) for anyone but a supervisor (of `desk`).
    public func listDisclosures(desk: String?, as user: UnlockedUser, requestID: String) async throws
        -> [DisclosureSummary]
    {
        let caller = user.caller(requestID: requestID)
        try await enforce(
            .allowed(if: user.role == .supervisor, else: "only supervisors list disclosures"), caller,
            "disclosure.list", "desk:\(desk ?? "*")")
        if let desk { try await requireSupervisor(of: desk, user, action: "disclosure.list", requestID: requestID) }
        return try await database.transaction { db in
            try self.expireDisclosures(db)
            let desks = try self.memberDeskIDs(db, user: user)
            guard !desks.isEmpty else { return [] }
            var sql =
                Self.disclosureSelect + " WHERE x.desk_id IN (\(databaseQuestionMarks(count: desks.count)))"
            var args: [DatabaseValueConvertible] = desks.map { Data($0.bytes) }
            if let desk {
                sql += " AND d.name = ?"
                args.append(desk)
            }
            sql += " ORDER BY x.requested_at DESC LIMIT 1000"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
                let deskState = try self.desk(db, id: ID(bytes: Array(row["desk_id"] as Data))!)
                let reason = try? self.openReason(
                    Array(row["reason_sealed"] as Data), db: db, desk: deskState, as: user)
                return Self.disclosureSummary(row, reason: reason)
            }
        }
    }

    static let disclosureSelect = """
        SELECT x.*, d.name AS desk_name, u.username AS requester FROM disclosures x
        JOIN desks d ON d.id = x.desk_id JOIN users u ON u.id = x.requester_id
        """

    static func disclosureSummary(_ row: Row, reason: String?) -> DisclosureSummary {
        DisclosureSummary(
            id: ID(bytes: Array(row["id"] as Data))!, caseID: ID(bytes: Array(row["case_id"] as Data))!,
            desk: row["desk_name"], state: row["state"], requester: row["requester"], recipient: row["recipient"],
            recipientName: row["recipient_name"], requestedAt: row["requested_at"], decidedBy: row["decided_by"],
            decidedAt: row["decided_at"], packageSize: row["package_size"], reviewer: row["reviewer"],
            reviewedAt: row["reviewed_at"], reason: reason)
    }

    func disclosureRow(_ db: Database, _ id: ID) throws -> Row {
        guard
            let row = try Row.fetchOne(db, sql: Self.disclosureSelect + " WHERE x.id = ?", arguments: [Data(id.bytes)])
        else { throw VaultError.notFound("no disclosure \(id)") }
        return row
    }

    /// Approved packages not downloaded within `disclosureLifetime` expire: the file is deleted, the state says so
    /// (recorded as `disclosure.expire`).
    func expireDisclosures(_ db: Database) throws {
        let due = try Data.fetchAll(
            db, sql: "SELECT id FROM disclosures WHERE state = 'approved' AND decided_at <= ?",
            arguments: [now() - Self.disclosureLifetime])
        for raw in due {
            guard let id = ID(bytes: Array(raw)) else { continue }
            try db.execute(sql: "UPDATE disclosures SET state = 'expired' WHERE id = ?", arguments: [raw])
            try? FileManager.default.removeItem(at: disclosurePackageURL(id))
            try record(db, Self.systemCaller, "disclosure.expire", "disclosure:\(id)")
        }
    }

    /// Approves (builds the package) or declines a pending disclosure. Another supervisor of the desk approves;
    /// the requester may only decline (withdraw). On approval the approving supervisor's keys open the case (the
    /// break-glass key path: its epochs are sealed to them for a few minutes, recorded), every read is recorded
    /// (`transcript.read`, `content.read`), and the package is written encrypted to the recipient.
    /// - Throws: `.notFound`; `.forbidden` (recorded); `.conflict` when already decided (a replayed approve).
    public func decideDisclosure(_ id: ID, approve: Bool, as user: UnlockedUser, requestID: String) async throws
        -> DisclosureSummary
    {
        let caller = user.caller(requestID: requestID)
        let action = approve ? "disclosure.approve" : "disclosure.decline"
        let target = "disclosure:\(id)"
        let outcome: Result<(caseID: ID, desk: String, recipient: String, seq: Int64), VaultError> =
            try await database
            .transaction { db in
                try self.expireDisclosures(db)
                let row = try self.disclosureRow(db, id)
                let caseID = ID(bytes: Array(row["case_id"] as Data))!
                let desk = try self.desk(db, id: ID(bytes: Array(row["desk_id"] as Data))!)
                let requesterID = ID(bytes: Array(row["requester_id"] as Data))!
                if case .denied(let e) = try self.mayDecideDisclosure(
                    db, desk: desk, requesterID: requesterID, approve: approve, user)
                {
                    return try self.refuse(db, caller, action, target, e)
                }
                guard (row["state"] as String) == "pending" else {
                    return try self.refuse(db, caller, action, target, .conflict("the disclosure was already decided"))
                }
                try db.execute(
                    sql: "UPDATE disclosures SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                    arguments: [approve ? "approved" : "declined", user.username, self.now(), Data(id.bytes)])
                try self.record(db, caller, action, "case:\(caseID) \(target)", desk: desk)
                if approve {
                    guard let c = try self.findCase(db, id: caseID) else {
                        throw VaultError.conflict("the case no longer exists")
                    }
                    let expires = self.now() + Self.disclosureBuildGrant
                    try self.grantEpochs(
                        db, case: c, desk: desk, opener: user, recipient: user.keys, expiresAt: expires)
                    try self.insertGrant(
                        db, caseID: c.id, userID: user.id, kind: "breakglass", requestID: nil,
                        auditSeq: try AuditLog.headSeq(db), expiresAt: expires)
                }
                return .success((caseID, desk.name, row["recipient"] as String, try AuditLog.headSeq(db)))
            }
        let decided = try outcome.get()
        if approve {
            do {
                try await buildDisclosurePackage(
                    id, caseID: decided.caseID, desk: decided.desk, recipient: try AgeRecipient(decided.recipient),
                    as: user, requestID: requestID)
                try await endBuildGrant(caseID: decided.caseID, userID: user.id, seq: decided.seq)
            } catch {
                try? await endBuildGrant(caseID: decided.caseID, userID: user.id, seq: decided.seq)
                try? FileManager.default.removeItem(at: disclosurePackageURL(id))
                try await database.transaction { db in
                    try db.execute(
                        sql: """
                            UPDATE disclosures SET state = 'pending', decided_by = NULL, decided_at = NULL
                            WHERE id = ? AND state = 'approved'
                            """, arguments: [Data(id.bytes)])
                    try self.record(db, caller, action, target, .error)
                }
                throw error
            }
        }
        return try await database.read { db in Self.disclosureSummary(try self.disclosureRow(db, id), reason: nil) }
    }

    /// Ends the approving supervisor's build grant as soon as the package is written (instead of at its 5-minute
    /// expiry), as the expiry sweep would: their wraps of the case's epochs go unless they are its assignee or hold
    /// another live break-glass on it, a new epoch starts, and `breakglass.expire` is recorded.
    func endBuildGrant(caseID: ID, userID: ID, seq: Int64) async throws {
        try await database.transaction { db in
            guard
                let g = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM case_grants WHERE case_id = ? AND user_id = ? AND kind = 'breakglass'
                        AND audit_seq = ? AND expired = 0
                        """, arguments: [Data(caseID.bytes), Data(userID.bytes), seq]),
                let c = try self.findCase(db, id: caseID)
            else { return }
            try self.checkGrant(g)
            let mac = self.stateMAC.tag(.grant, Self.grantFields(g, expired: true))
            try db.execute(
                sql: "UPDATE case_grants SET expired = 1, state_mac = ? WHERE id = ?",
                arguments: [Data(mac), g["id"] as Data])
            let otherGrant = try self.hasLiveGrant(db, caseID: caseID, userID: userID, kind: "breakglass")
            if c.assigneeID != userID, !otherGrant, let user = try self.findUser(db, id: userID),
                let pk = user.boxPublic
            {
                try self.revokeCaseWraps(db, case: caseID, recipient: pk)
            }
            try self.startEpoch(db, case: c, desk: try self.desk(db, id: c.deskID))
            try self.record(db, Self.systemCaller, "breakglass.expire", "case:\(caseID)")
        }
    }

    /// Reads the case with `user`'s keys (recorded reads) and writes the age-encrypted package.
    func buildDisclosurePackage(
        _ id: ID, caseID: ID, desk: String, recipient: AgeRecipient, as user: UnlockedUser, requestID: String
    ) async throws {
        let archive = try PackageArchive()
        try await addCaseFiles(to: archive, caseID: caseID, desk: desk, prefix: "", as: user, requestID: requestID)
        let zip = try archive.finish(signing: keys.signing)
        let folder = directory.appendingPathComponent("disclosures")
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let written = try AgeFileWriter.write(zip, to: recipient, url: disclosurePackageURL(id))
        try await database.transaction { db in
            try db.execute(
                sql: "UPDATE disclosures SET package_sha256 = ?, package_size = ? WHERE id = ?",
                arguments: [Data(written.sha256), written.size, Data(id.bytes)])
        }
    }

    /// Adds one case's files under `prefix`: transcript.json, transcript.html, notes.json, record.json, media/….
    /// Every page and attachment is read through the recorded read paths with `user`'s keys.
    public func addCaseFiles(
        to archive: PackageArchive, caseID: ID, desk: String, prefix: String, as user: UnlockedUser, requestID: String
    ) async throws {
        var messages: [TranscriptMessage] = []
        var after = 0
        while true {
            let page = try await transcriptPage(
                caseID: caseID, afterSeq: after, limit: 1000, as: user, requestID: requestID
            ).messages
            messages += page
            guard page.count == 1000, let last = page.last else { break }
            after = last.seq
        }
        try archive.add(prefix + "transcript.json", PackageContent.transcriptJSON(caseID: caseID, messages))
        try archive.add(prefix + "transcript.html", PackageContent.transcriptHTML(caseID: caseID, desk: desk, messages))
        try archive.add(prefix + "notes.json", PackageContent.notesJSON(caseID: caseID, messages))
        try archive.add(prefix + "record.json", try await recordFile(caseID))
        for m in messages where m.data?["content_available"] == .bool(true) {
            let reader = try await openContent(caseID: caseID, messageID: m.id, as: user, requestID: requestID)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(reader.size)
            while let chunk = try await reader.next() { bytes += chunk }
            try archive.add(
                PackageContent.mediaPath(prefix: prefix, messageID: m.id, contentType: reader.contentType), bytes)
        }
    }

    /// A case's record.json (its coded record, figures and state), read in one transaction.
    func recordFile(_ caseID: ID) async throws -> [UInt8] {
        try await database.read { db in try self.recordFile(db, caseID) }
    }

    func recordFile(_ db: Database, _ caseID: ID) throws -> [UInt8] {
        guard let c = try findCase(db, id: caseID) else { throw VaultError.notFound("no case \(caseID)") }
        return try PackageContent.recordJSON(
            caseID: caseID, view: try Self.recordView(db, caseID: caseID), status: c.status, risk: c.risk,
            openedAt: c.openedAt, closedAt: c.closedAt)
    }

    /// The requester downloads the package once, within 24 hours of approval; the stored file is deleted.
    /// - Returns: the age file's bytes.
    /// - Throws: `.notFound`; `.forbidden` (recorded) for anyone else; `.conflict` (recorded) when it was downloaded
    ///   already, expired, or is not approved.
    public func downloadDisclosure(_ id: ID, as user: UnlockedUser, requestID: String) async throws -> [UInt8] {
        let caller = user.caller(requestID: requestID)
        let target = "disclosure:\(id)"
        let url = disclosurePackageURL(id)
        let file = (try? Data(contentsOf: url)).map { [UInt8]($0) }
        let outcome: Result<[UInt8], VaultError> = try await database.transaction { db in
            try self.expireDisclosures(db)
            let row = try self.disclosureRow(db, id)
            let requesterID = ID(bytes: Array(row["requester_id"] as Data))!
            if case .denied(let e) = self.mayDownloadDisclosure(requesterID: requesterID, user) {
                return try self.refuse(db, caller, "disclosure.download", target, e)
            }
            let state: String = row["state"]
            guard state == "approved" else {
                let why =
                    state == "downloaded"
                    ? "the package was downloaded already; it is given once"
                    : state == "expired"
                        ? "the package expired (24 hours after approval)" : "the disclosure is \(state)"
                return try self.refuse(db, caller, "disclosure.download", target, .conflict(why))
            }
            guard let expected = row["package_sha256"] as Data?, let file,
                SecretBytes.constantTimeEquals(Hashing.sha256(file), Array(expected))
            else {
                try self.record(db, caller, "disclosure.download", target, .error)
                return .failure(.integrity("the stored package is missing or does not match its hash"))
            }
            try db.execute(
                sql: "UPDATE disclosures SET state = 'downloaded', downloaded_at = ? WHERE id = ?",
                arguments: [self.now(), Data(id.bytes)])
            try self.record(db, caller, "disclosure.download", target)
            return .success(file)
        }
        let bytes = try outcome.get()
        try? FileManager.default.removeItem(at: url)
        return bytes
    }

    /// The auditors' review queue: every disclosure with its reason, oldest first (recorded as `audit.read`).
    public func disclosureQueue(as user: UnlockedUser, requestID: String) async throws -> [DisclosureSummary] {
        try await requireAuditor(user, "audit.read", "audit:disclosures", requestID: requestID)
        return try await database.transaction { db in
            try self.expireDisclosures(db)
            try self.record(db, user.caller(requestID: requestID), "audit.read", "audit:disclosures")
            let key = try self.openAuditorsKey(db, as: user)
            return try Row.fetchAll(db, sql: Self.disclosureSelect + " ORDER BY x.requested_at LIMIT 10000").map {
                Self.disclosureSummary($0, reason: self.openReason(Array($0["reason_sealed"] as Data), with: key))
            }
        }
    }

    /// An auditor reviews a disclosure (`disclosure.review`; the comment sealed like a reason).
    /// - Throws: `.forbidden` (recorded), `.invalid`, `.notFound`, `.conflict` when reviewed already.
    public func reviewDisclosure(_ id: ID, comment: String, as user: UnlockedUser, requestID: String) async throws
        -> DisclosureSummary
    {
        let target = "disclosure:\(id)"
        try await requireAuditor(user, "disclosure.review", target, requestID: requestID)
        guard !comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, comment.utf8.count <= 4000 else {
            throw VaultError.invalid("`comment` must be 1–4000 bytes")
        }
        return try await database.transaction { db in
            let row = try self.disclosureRow(db, id)
            guard row["reviewer"] as String? == nil else {
                throw VaultError.conflict("disclosure \(id) has been reviewed already")
            }
            try self.record(db, user.caller(requestID: requestID), "disclosure.review", target, reason: comment)
            try db.execute(
                sql: "UPDATE disclosures SET reviewer = ?, reviewed_at = ?, review_seq = ? WHERE id = ?",
                arguments: [user.username, self.now(), try AuditLog.headSeq(db), Data(id.bytes)])
            return Self.disclosureSummary(try self.disclosureRow(db, id), reason: nil)
        }
    }
}
