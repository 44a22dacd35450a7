import Foundation
import Synchronization
import VaultCrypto

/// A user whose secrets are unlocked, held only in a session's protected memory.
public final class UnlockedUser: Sendable {
    public let keys: UserKeys
    let box: BoxKeyPair
    let signing: SigningKeyPair
    private let unwrapped = Mutex<[[UInt8]: BoxKeyPair]>([:])

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
    /// Drops every unwrapped desk and case key (logout, expiry, rotation).
    func forget() { unwrapped.withLock { $0.removeAll() } }

    func caller(requestID: String) -> Caller { Caller(actor: username, role: role.rawValue, requestID: requestID) }
}
