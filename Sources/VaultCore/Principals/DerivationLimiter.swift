import Foundation
import Synchronization
import VaultCrypto

/// Runs Argon2id off the cooperative thread pool, at most `limit` at a time, with at most `maxWaiting` callers
/// queued behind them: a caller that finds the queue full is refused at once (`.rateLimited`), so a flood of
/// guesses cannot make a real login wait without bound.
final class DerivationLimiter: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
        var started = 0
    }
    private let state = Mutex(State())
    private let limit: Int
    private let maxWaiting: Int

    init(limit: Int, maxWaiting: Int) {
        self.limit = max(1, limit)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Derivations started since this process opened the vault (a count, for tests and metrics).
    var started: Int { state.withLock { $0.started } }

    /// - Throws: `.rateLimited` when the queue is full; the KDF's errors.
    func derive(passphrase: String, salt: [UInt8], parameters: KDFParameters) async throws -> SecretBytes {
        try await acquire()
        defer { release() }
        return try await withCheckedThrowingContinuation { cont in
            DispatchQueue.global(qos: .userInitiated).async {
                cont.resume(
                    with: Result {
                        try PasswordKDF.deriveKey(passphrase: passphrase, salt: salt, parameters: parameters)
                    })
            }
        }
    }

    private func acquire() async throws {
        // The continuation answers whether the caller may run (true) or the queue was full (false). (A captured
        // `var` set inside the closure crashed the release build's coroutine splitting in Swift 6.3.)
        let admitted = await withCheckedContinuation { (cont: CheckedContinuation<Bool, Never>) in
            enum Next { case run, wait, refuse }
            let next = state.withLock { s -> Next in
                if s.running < limit {
                    s.running += 1
                    s.started += 1
                    return .run
                }
                guard s.waiting.count < maxWaiting else { return .refuse }
                s.waiting.append(cont)
                return .wait
            }
            switch next {
            case .run: cont.resume(returning: true)
            case .wait: break
            case .refuse: cont.resume(returning: false)
            }
        }
        guard admitted else {
            throw VaultError(.rateLimited, "the server is busy checking passphrases; try again in 2 s", retryAfter: 2)
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if s.waiting.isEmpty {
                s.running -= 1
                return nil
            }
            s.started += 1
            return s.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
