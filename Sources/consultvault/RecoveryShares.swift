import Foundation
import VaultCore
import VaultCrypto

/// Reads K recovery share files (`recovery-key new`) and recombines the recovery secret into protected memory.
enum RecoveryShares {
    /// - Throws: `VaultError` naming the unreadable or damaged file, or saying how many shares are needed.
    static func combine(_ paths: [String]) throws -> SecretBytes {
        guard !paths.isEmpty else { throw VaultError(.invalidRequest, "give the share files with --share FILE") }
        var parts: [Shamir.Share] = []
        for path in paths {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw VaultError(.notFound, "cannot read share file \(path)")
            }
            do {
                parts.append(try Shamir.Share.decodeFile(text).share)
            } catch {
                throw VaultError(.invalidRequest, "share file \(path) is damaged or not a share: \(error)")
            }
        }
        if let first = parts.first, parts.count < first.threshold {
            throw VaultError(
                .forbidden,
                "refused: \(first.threshold) of the \(first.total) recovery shares are needed, \(parts.count) given")
        }
        do {
            return try Shamir.combine(parts)
        } catch {
            throw VaultError(.invalidRequest, "the shares do not recombine: \(error)")
        }
    }
}
