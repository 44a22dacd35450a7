import Foundation
import Testing
import VaultCrypto

/// Process settings `serve` and `relay` apply first thing (VaultCrypto's `Hardening`).
@Suite struct HardeningTests {
    @Test("glibc accepts the malloc arena cap, and MALLOC_ARENA_MAX in the environment is left to decide")
    func mallocArenas() {
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil {
            #expect(Hardening.limitMallocArenas(2))
        }
        setenv("MALLOC_ARENA_MAX", "4", 1)
        defer { unsetenv("MALLOC_ARENA_MAX") }
        #expect(Hardening.limitMallocArenas(2))
    }
}
