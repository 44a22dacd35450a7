import Foundation
import Synchronization
import VaultCrypto

/// A user whose secrets are unlocked, held only in a session's protected memory.
public final class UnlockedUser: Sendable {
    public let keys: UserKeys
    let box: BoxKeyPair
    let signing: SigningKeyPair
    private let unwrapped = Mutex<[[UInt8]: BoxKeyPair]>([:])
    /// Opened sender sessions (envelope v2) by session id, for the session's lifetime.
    private let senderSessions = Mutex<[[UInt8]: SenderSessionKey]>([:])
    static let sessionCacheLimit = 10_000

    init(keys: UserKeys, box: BoxKeyPair, signing: SigningKeyPair) {
        self.keys = keys
        self.box = box
        self.signing = signing
    }

    public var id: ID { keys.userID }
    public var username: String { keys.username }
    public var role: Role { keys.role }

    func cached(_ keyID: [UInt8]) -> BoxKeyPair? { unwrapped.withLock { $0[keyID] } }
    /// Keeps an unwrapped key for the session's lifetime, in sodium_malloc memory.
    func cache(_ pair: BoxKeyPair) {
        guard let secret = try? pair.secretKey.protectedCopy(), let kept = try? BoxKeyPair(secretKey: secret) else {
            return
        }
        unwrapped.withLock { $0[kept.keyID] = kept }
    }
    func cachedSession(_ id: [UInt8]) -> SenderSessionKey? { senderSessions.withLock { $0[id] } }
    /// Keeps an opened sender session key (in sodium_malloc memory) for the session's lifetime; at most
    /// `sessionCacheLimit` of them (then the cache starts over).
    func cache(_ session: SenderSessionKey) {
        senderSessions.withLock {
            if $0.count >= Self.sessionCacheLimit { $0.removeAll() }
            $0[session.id] = session
        }
    }
    /// Drops every unwrapped desk and case key and every opened sender session (logout, expiry, rotation).
    func forget() {
        unwrapped.withLock { $0.removeAll() }
        senderSessions.withLock { $0.removeAll() }
    }

    func caller(requestID: String) -> Caller { Caller(actor: username, role: role.rawValue, requestID: requestID) }
}
