import Foundation
import Synchronization
import VaultCore
import VaultCrypto

/// A clock tests move by hand (expiry without sleeps).
public final class ManualClock: Sendable {
    private let now: Mutex<Int64>

    public init(start: Int64 = 1_795_000_000_000) { now = Mutex(start) }

    public var clock: VaultClock { VaultClock { [self] in self.now.withLock { $0 } } }
    public func advance(seconds: Int64) { now.withLock { $0 += seconds * 1000 } }
    public var milliseconds: Int64 { now.withLock { $0 } }
}

/// A populated test vault in a temporary directory: an admin, an auditor, desks `ijime` (supervisor `sup`,
/// counselors `cou1` and `cou4`, `cou3` invited only) and `gyakutai` (supervisor `sup2`, counselor `cou2`),
/// a relay token for `ijime` and the recovery key pair. Test KDF profile.
public struct Fixture: Sendable {
    public let directory: URL
    public let vault: Vault
    public let recovery: BoxKeyPair
    public let relayToken: String
    public let relay: RelayPrincipal
    public let passphrases: [String: String]
    public let codes: [String: String]
    public let fingerprints: [String: String]

    public static let users: [(String, Role)] = [
        ("adm", .admin), ("aud", .auditor), ("sup", .supervisor), ("sup2", .supervisor), ("cou1", .counselor),
        ("cou2", .counselor), ("cou3", .counselor), ("cou4", .counselor),
    ]

    public static func make(clock: VaultClock = .system, settings: VaultSettings = VaultSettings()) async throws
        -> Fixture
    {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cv-test-\(ID.v4())")
        _ = try Vault.create(at: dir, kdf: .test, clock: clock)
        let vault = try Vault.open(at: dir, clock: clock, settings: settings)
        let cli = Caller.cli()
        var passphrases: [String: String] = [:]
        var codes: [String: String] = [:]
        var fingerprints: [String: String] = [:]
        for (u, role) in users {
            codes[u] = try await vault.addUser(username: u, role: role, caller: cli).code
            passphrases[u] = "passphrase of \(u) 秘密"
        }
        for (u, _) in users {
            fingerprints[u] = try await vault.enroll(
                username: u, code: codes[u]!, passphrase: passphrases[u]!, requestID: "setup")
        }
        let recovery = try BoxKeyPair.generate()
        try await vault.addDesk(
            name: "ijime", supervisor: "sup", recoveryKey: recovery.publicKey, retentionDays: nil, caller: cli)
        try await vault.addDesk(
            name: "gyakutai", supervisor: "sup2", recoveryKey: recovery.publicKey, retentionDays: nil, caller: cli)
        let sup = try await vault.unlockForCLI(username: "sup", passphrase: passphrases["sup"]!)
        let sup2 = try await vault.unlockForCLI(username: "sup2", passphrase: passphrases["sup2"]!)
        // Each founding supervisor accepts their desk, vouching for the recovery key's fingerprint.
        let recoveryFingerprint = Vault.recoveryFingerprint(recovery.publicKey)
        try await vault.acceptDesk(name: "ijime", recoveryFingerprint: recoveryFingerprint, as: sup, requestID: "setup")
        try await vault.acceptDesk(
            name: "gyakutai", recoveryFingerprint: recoveryFingerprint, as: sup2, requestID: "setup")
        for u in ["cou1", "cou4", "cou3"] { try await vault.invite(desk: "ijime", username: u, caller: cli) }
        for u in ["cou1", "cou4"] {
            try await vault.confirm(
                desk: "ijime", username: u, fingerprint: fingerprints[u]!, supervisor: sup, requestID: "setup")
        }
        try await vault.invite(desk: "gyakutai", username: "cou2", caller: cli)
        try await vault.confirm(
            desk: "gyakutai", username: "cou2", fingerprint: fingerprints["cou2"]!, supervisor: sup2, requestID: "setup"
        )
        let token = try await vault.issueRelayToken(name: "relay1", desks: ["ijime"], caller: cli)
        guard let relay = try await vault.authenticateRelay(token) else { throw VaultError(.internalError, "token") }
        return Fixture(
            directory: dir, vault: vault, recovery: recovery, relayToken: token, relay: relay, passphrases: passphrases,
            codes: codes, fingerprints: fingerprints)
    }

    /// Unlocks `username` as the CLI would.
    public func unlock(_ username: String) async throws -> UnlockedUser {
        try await vault.unlockForCLI(username: username, passphrase: passphrases[username]!)
    }

    /// A plain text message for desk `ijime`.
    public func text(_ text: String, user: String = "U0123456789abcdef0123456789abcdef", external: String? = nil)
        -> InboundText
    {
        InboundText(
            desk: "ijime", channel: "line", channelUser: user, externalID: external ?? "ext-\(ID.v4())",
            sentAt: 1_795_000_000_123, text: text)
    }

    /// Every byte of every file under the data directory.
    public func allBytes() throws -> [(String, Data)] {
        let fm = FileManager.default
        var out: [(String, Data)] = []
        guard let e = fm.enumerator(atPath: directory.path) else { return out }
        for case let path as String in e {
            let full = directory.appendingPathComponent(path).path
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, let d = fm.contents(atPath: full) {
                out.append((path, d))
            }
        }
        return out
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
