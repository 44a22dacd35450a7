import Synchronization
import VaultCrypto

/// A memo of signatures already checked (keyed by a hash of signer key, message and signature),
/// so hot paths do not re-verify an unchanged epoch or manifest. A changed byte is a new key.
final class VerifiedSignatures: Sendable {
    private let seen = Mutex<Set<[UInt8]>>([])

    func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        let key = Hashing.blake2b(parts: [publicKey, message, signature], outputLength: 32)
        if seen.withLock({ $0.contains(key) }) { return true }
        guard SigningKeyPair.verify(signature: signature, message: message, publicKey: publicKey) else { return false }
        seen.withLock {
            if $0.count > 100_000 { $0.removeAll() }
            $0.insert(key)
        }
        return true
    }
}

/// Desk manifests whose whole signature chain has been verified, keyed by a hash of the stored bytes
/// (desk id, body, signer, signature): the ingest hot path parses and verifies a manifest once per version.
final class VerifiedManifests: Sendable {
    private let known = Mutex<[[UInt8]: DeskManifest]>([:])

    func get(_ key: [UInt8]) -> DeskManifest? { known.withLock { $0[key] } }

    func put(_ key: [UInt8], _ manifest: DeskManifest) {
        known.withLock {
            if $0.count > 10_000 { $0.removeAll() }
            $0[key] = manifest
        }
    }
}

/// Advice for the ingest hot path, so sealing before the write lock needs no database read: verified desks by
/// name and each routing id's current case epoch (public key, already verified). Every hint is checked again in
/// the write transaction (manifest version, case and epoch), which seals afresh and corrects the hint when stale.
final class IngestHints: Sendable {
    private struct State {
        var desks: [String: DeskState] = [:]
        var routes: [[UInt8]: (caseID: ID, epoch: Int, publicKey: [UInt8])] = [:]
    }
    private let state = Mutex(State())

    func desk(_ name: String) -> DeskState? { state.withLock { $0.desks[name] } }
    func route(_ routing: [UInt8]) -> (caseID: ID, epoch: Int, publicKey: [UInt8])? {
        state.withLock { $0.routes[routing] }
    }

    func remember(desk: DeskState) {
        state.withLock {
            if $0.desks.count > 1000 { $0.desks.removeAll() }
            $0.desks[desk.name] = desk
        }
    }

    func remember(route: (caseID: ID, epoch: Int, publicKey: [UInt8]), for routing: [UInt8]) {
        state.withLock {
            if $0.routes.count > 100_000 { $0.routes.removeAll() }
            $0.routes[routing] = route
        }
    }
}

/// Relay tokens authenticated in the last few seconds (by token hash). Writes re-check revocation in their own
/// transaction (`assertRelayLive`), so a revoked token never writes; other relay routes follow within seconds.
final class RelayTokenCache: Sendable {
    static let lifetimeMilliseconds: Int64 = 5_000
    private let known = Mutex<[[UInt8]: (RelayPrincipal, Int64)]>([:])

    func get(_ hash: [UInt8], now: Int64) -> RelayPrincipal? {
        known.withLock { m in
            guard let (p, until) = m[hash], until > now else { return nil }
            return p
        }
    }

    func put(_ hash: [UInt8], _ principal: RelayPrincipal, now: Int64) {
        known.withLock {
            if $0.count > 10_000 { $0.removeAll() }
            $0[hash] = (principal, now + Self.lifetimeMilliseconds)
        }
    }

    /// Forgets a token at once (revocation in this process).
    func forget(name: String) {
        known.withLock { m in m = m.filter { $0.value.0.name != name } }
    }
}
