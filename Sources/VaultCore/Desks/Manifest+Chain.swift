import Foundation
import GRDB
import VaultCrypto

/// The desk manifest chain: which version is current, and verifying a version back to the vault-signed first one.
extension Vault {
    /// The desk's current manifest version: the newest stored version, which the `desks.manifest_version` pointer
    /// must name and which never goes below the newest committed version anchored in `DIR/manifest-heads.json`
    /// (manifest rows are append-only, and the schema check refuses a database whose triggers were dropped). A rolled-back pointer
    /// or a deleted newer version is refused, so no key is ever re-sealed to an older generation.
    /// - Throws: `VaultError.integrity` on a mismatch or a rollback.
    func manifestHead(_ db: Database, deskID: ID, pointer: Int64) throws -> Int64 {
        let newest =
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT max(version) FROM desk_manifests WHERE desk_id = ?"),
                arguments: [Data(deskID.bytes)]) ?? 0
        guard newest == pointer, newest >= manifestHeads.highest(deskID) else {
            throw VaultError.integrity(
                "a desk's manifest version was rolled back outside the vault (pointer \(pointer), newest \(newest)); refusing to act on it"
            )
        }
        // Anchored only once committed: a version this transaction wrote and then rolled back must not count.
        let heads = manifestHeads
        if newest > heads.highest(deskID), !database.afterCommit({ _ in heads.saw(newest, for: deskID) }) {
            heads.saw(newest, for: deskID)
        }
        return newest
    }

    /// Verifies manifest `version` of a desk and every version before it (see `verifyManifestChain`).
    /// The result is memoized by a hash of the exact stored bytes of versions 1…`version`: any changed byte in
    /// the chain is a new key and is verified afresh, so the ingest hot path verifies a desk once per version.
    /// - Throws: `VaultError.integrity` on any broken signature or link.
    func verifiedManifest(_ db: Database, deskID: ID, version: Int64) throws -> DeskManifest {
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT version, body, signer, signature FROM desk_manifests WHERE desk_id = ? AND version <= ?
                    ORDER BY version
                    """),
            arguments: [Data(deskID.bytes), version])
        var parts: [[UInt8]] = [deskID.bytes, Canonical.u64(UInt64(max(0, version)))]
        for row in rows {
            parts.append(
                Canonical.encode([
                    Canonical.u64(UInt64(max(0, row["version"] as Int64))), Array(row["body"] as Data),
                    Array((row["signer"] as String).utf8), Array(row["signature"] as Data),
                ]))
        }
        let memoKey = Hashing.blake2b(parts: parts)
        if let known = manifests.get(memoKey) { return known }
        let manifest = try verifyManifestChain(db, deskID: deskID, version: version)
        manifests.put(memoKey, manifest)
        return manifest
    }

    /// Verifies manifest `version` of a desk: vault-signed, or signed by a supervisor who was a confirmed
    /// supervisor in the previous (itself verified) version and whose keys the vault attested.
    /// - Throws: `VaultError.integrity` on any broken signature or link.
    private func verifyManifestChain(_ db: Database, deskID: ID, version: Int64) throws -> DeskManifest {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT body, signer, signature FROM desk_manifests WHERE desk_id = ? AND version = ?"),
                arguments: [Data(deskID.bytes), version])
        else { throw VaultError.integrity("desk manifest version \(version) is missing") }
        let body = Array(row["body"] as Data)
        let signature = Array(row["signature"] as Data)
        let signer: String = row["signer"]
        let manifest = try DeskManifest(body: body)
        guard manifest.deskID == deskID, manifest.version == UInt64(version) else {
            throw VaultError.integrity("desk manifest version \(version) belongs elsewhere")
        }
        let signerKey: [UInt8]
        if signer == "vault" {
            guard verifyVaultSignature(signature, body) else {
                throw VaultError.integrity(
                    "desk manifest version \(version) has a bad signature; refusing to seal to its keys")
            }
            return manifest
        } else {
            guard version > 1 else { throw VaultError.integrity("desk manifest version 1 must be signed by the vault") }
            let previous = try verifyManifestChain(db, deskID: deskID, version: version - 1)
            guard let m = previous.member(signer), m.role == .supervisor,
                let user = try self.findUser(db, username: signer)
            else { throw VaultError.integrity("desk manifest version \(version) is signed by a non-supervisor") }
            let keys = try verifiedKeys(user)
            guard keys.signPublic == m.signPublic else {
                throw VaultError.integrity("desk manifest signer \(signer) has changed keys")
            }
            signerKey = keys.signPublic
        }
        guard verified.verify(signature: signature, message: body, publicKey: signerKey) else {
            throw VaultError.integrity(
                "desk manifest version \(version) has a bad signature; refusing to seal to its keys")
        }
        return manifest
    }

    func storeManifest(_ db: Database, _ manifest: DeskManifest, signer: String, signing: SigningKeyPair) throws {
        let body = manifest.body
        try db.execute(
            sql:
                "INSERT INTO desk_manifests (desk_id, version, body, signer, signature, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                Data(manifest.deskID.bytes), Int64(manifest.version), Data(body), signer, Data(signing.sign(body)),
                now(),
            ])
        try db.execute(
            sql: "UPDATE desks SET manifest_version = ? WHERE id = ?",
            arguments: [Int64(manifest.version), Data(manifest.deskID.bytes)])
    }
}
