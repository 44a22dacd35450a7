import VaultCrypto

/// A desk manifest version: the desk's public keys and confirmed members, signed by the vault
/// (version 1, rotation, recovery) or by the supervisor who made the change (schema/FORMAT.md §5).
public struct DeskManifest: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var username: String
        public var role: Role
        public var boxPublic: [UInt8]
        public var signPublic: [UInt8]
    }

    public var deskID: ID
    public var name: String
    public var version: UInt64
    public var queuePublic: [UInt8]
    public var oversightPublic: [UInt8]
    public var relayPublic: [UInt8]
    public var recoveryPublic: [UInt8]
    public var members: [Member]

    static let label = "consultvault/desk-manifest/v1"

    /// The signed bytes; members sorted by username bytes.
    public var body: [UInt8] {
        let sorted = members.sorted { Array($0.username.utf8).lexicographicallyPrecedes(Array($1.username.utf8)) }
        let encodedMembers = Canonical.encode(
            sorted.map {
                Canonical.encode([Array($0.username.utf8), Array($0.role.rawValue.utf8), $0.boxPublic, $0.signPublic])
            })
        return Canonical.encode([
            Array(Self.label.utf8), deskID.bytes, Array(name.utf8), Canonical.u64(version), queuePublic,
            oversightPublic,
            relayPublic, recoveryPublic, encodedMembers,
        ])
    }

    /// Parses signed bytes back into a manifest.
    /// - Throws: `VaultError.integrity` when the bytes are not a manifest.
    public init(body: [UInt8]) throws {
        let bad = VaultError.integrity("a desk manifest is malformed")
        guard let f = try? Canonical.decode(body), f.count == 9, f[0] == Array(Self.label.utf8),
            let desk = ID(bytes: f[1]),
            let name = String(bytes: f[2], encoding: .utf8), f[3].count == 8
        else { throw bad }
        var members: [Member] = []
        for m in (try? Canonical.decode(f[8])) ?? [] {
            guard let mf = try? Canonical.decode(m), mf.count == 4, let u = String(bytes: mf[0], encoding: .utf8),
                let r = String(bytes: mf[1], encoding: .utf8).flatMap(Role.init)
            else { throw bad }
            members.append(Member(username: u, role: r, boxPublic: mf[2], signPublic: mf[3]))
        }
        self.init(
            deskID: desk, name: name, version: f[3].reduce(0) { $0 << 8 | UInt64($1) }, queuePublic: f[4],
            oversightPublic: f[5], relayPublic: f[6], recoveryPublic: f[7], members: members)
    }

    public init(
        deskID: ID, name: String, version: UInt64, queuePublic: [UInt8], oversightPublic: [UInt8], relayPublic: [UInt8],
        recoveryPublic: [UInt8], members: [Member]
    ) {
        self.deskID = deskID
        self.name = name
        self.version = version
        self.queuePublic = queuePublic
        self.oversightPublic = oversightPublic
        self.relayPublic = relayPublic
        self.recoveryPublic = recoveryPublic
        self.members = members
    }

    func member(_ username: String) -> Member? { members.first { $0.username == username } }
}
