import Foundation
import GRDB
import Synchronization
import VaultCrypto

/// The vault's own sender sessions (envelope version 2, schema/FORMAT.md §1.8): one live session per case epoch,
/// shared by every message the vault seals into that epoch (inbound text, LINE events, replies, notes, attachment
/// keys).
///
/// A session is bound to one epoch key, so when the case's epoch changes no new message goes into it: every writer
/// seals to the epoch its write transaction found current (an attachment arriving later belongs to its message's
/// epoch). A session also ends after `messageLimit` messages or `lifetimeMilliseconds`, when more than `liveLimit`
/// sessions are live (the oldest go first), and at shutdown (`endAll`). An ended session's key is wiped when the
/// last seal using it returns; its public key stays stored, so its messages stay readable with the epoch key.
final class SenderSessions: Sendable {
    static let messageLimit = 10_000
    static let lifetimeMilliseconds: Int64 = 10 * 60 * 1000
    static let liveLimit = 4096

    private struct Live {
        let key: SenderSessionKey
        var sealed: Int
        let startedAt: Int64
    }
    private struct Epoch: Hashable {
        let caseID: ID
        let keyID: [UInt8]
    }
    private let live = Mutex<[Epoch: Live]>([:])

    /// The session to seal one more message of `caseID` with, for the epoch whose public key is `epochPublicKey`
    /// (counted against the session's message limit); a new one when there is none or the current one ended.
    /// - Throws: `CryptoError` for a malformed epoch key.
    func session(caseID: ID, epochPublicKey: [UInt8], now: Int64) throws -> SenderSessionKey {
        let epoch = Epoch(caseID: caseID, keyID: Hashing.keyID(epochPublicKey))
        let current = live.withLock { m -> SenderSessionKey? in
            guard var l = m[epoch], l.sealed < Self.messageLimit, now >= l.startedAt,
                now - l.startedAt < Self.lifetimeMilliseconds
            else { return nil }
            l.sealed += 1
            m[epoch] = l
            return l.key
        }
        if let current { return current }
        // Two concurrent first seals of an epoch may each start one; both are valid sessions, the later one stays.
        let fresh = try SenderSessionKey.start(caseID: caseID.bytes, epochPublicKey: epochPublicKey)
        live.withLock { m in
            if m.count >= Self.liveLimit {
                m = m.filter { now >= $0.value.startedAt && now - $0.value.startedAt < Self.lifetimeMilliseconds }
                while m.count >= Self.liveLimit, let oldest = m.min(by: { $0.value.startedAt < $1.value.startedAt }) {
                    m.removeValue(forKey: oldest.key)
                }
            }
            m[epoch] = Live(key: fresh, sealed: 1, startedAt: now)
        }
        return fresh
    }

    /// How many sessions are live (tests).
    var count: Int { live.withLock { $0.count } }

    /// Ends every session (shutdown): their keys are wiped once no seal holds them.
    func endAll() { live.withLock { $0.removeAll() } }

    /// Stores a session's public key once (the first message sealed in it, in the same transaction); a second
    /// insert of the same session is a no-op.
    static func store(
        _ db: Database, sessionID: [UInt8], caseID: ID, epochKeyID: [UInt8], publicKey: [UInt8], now: Int64
    )
        throws
    {
        try db.cachedStatement(
            sql: """
                INSERT INTO sender_sessions (id, case_id, epoch_key_id, public_key, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO NOTHING
                """
        ).execute(arguments: [Data(sessionID), Data(caseID.bytes), Data(epochKeyID), Data(publicKey), now])
    }

    /// A stored session's case, epoch key id and public key.
    static func find(_ db: Database, id: [UInt8]) throws -> (caseID: ID, epochKeyID: [UInt8], publicKey: [UInt8])? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT case_id, epoch_key_id, public_key FROM sender_sessions WHERE id = ?"),
                arguments: [Data(id)]),
            let caseID = ID(bytes: Array(row[0] as Data))
        else { return nil }
        return (caseID, Array(row[1] as Data), Array(row[2] as Data))
    }
}

extension Vault {
    /// Ends the vault's own sender sessions (at shutdown); their keys are wiped once no seal holds them.
    public func endSenderSessions() { senderSessions.endAll() }

    /// Seals `plaintext` as a version 2 envelope in the vault's current sender session for the case epoch.
    func sealEnvelope(
        _ plaintext: [UInt8], messageID: ID, caseID: ID, epochPublicKey: [UInt8], direction: String, kind: String,
        author: String, sentAt: Int64
    ) throws -> (envelope: Envelope, sessionPublicKey: [UInt8]) {
        let session = try senderSessions.session(caseID: caseID, epochPublicKey: epochPublicKey, now: now())
        let envelope = try Envelope.seal(
            plaintext: plaintext, messageID: messageID, caseID: caseID, session: session, direction: direction,
            kind: kind, author: author, sentAt: sentAt)
        return (envelope, session.publicKey)
    }

    /// The session key of a stored sender session, opened with the epoch key pair and kept in the reader's session
    /// cache (wiped with it).
    /// - Throws: `.integrity` when the session row is missing, belongs to another case or epoch, or its public key
    ///   was swapped (the id no longer names it).
    func openSenderSession(
        id: [UInt8], caseID: ID, epoch: BoxKeyPair, publicKey: [UInt8]?, as user: UnlockedUser?
    ) throws -> SenderSessionKey {
        if let known = user?.cachedSession(id) { return known }
        guard let publicKey else { throw VaultError.integrity("a message names a sender session that is not stored") }
        let session: SenderSessionKey
        do {
            session = try SenderSessionKey.open(
                id: id, caseID: caseID.bytes, epoch: epoch, sessionPublicKey: publicKey)
        } catch {
            throw VaultError.integrity("a stored sender session does not match its id; the row was altered")
        }
        user?.cache(session)
        return session
    }
}
