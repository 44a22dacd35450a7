import Hummingbird
import VaultCore

/// Health and readiness: no authentication, no content, no names of people. Desk names go only to a caller with a
/// live staff session; anyone else learns how many desks have no unlocked supervisor, not which.
struct ServiceController {
    let vault: Vault

    struct Ready: Encodable {
        let ready: Bool
        let desksWithoutUnlockedSupervisor: [String]
        let desksWithoutUnlockedSupervisorCount: Int
        /// Stored rows whose MAC did not check since start (schema/FORMAT.md §18): each one refused an action.
        let integrityFailures: Int
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/healthz") { _, _ in try JSONBody.response(["status": "ok"]) }
        router.get("/readyz", use: ready)
    }

    @Sendable func ready(_ request: Request, context: VaultRequestContext) async throws -> Response {
        do {
            try await vault.checkWritable()
        } catch let e as VaultError where e.code == .integrity {
            throw APIError(
                .serviceUnavailable, "integrity_failure",
                "the database schema or the access log failed an integrity check; see ops/RUNBOOK.md")
        } catch let e as VaultError where e.code == .auditUnavailable {
            throw APIError(
                .serviceUnavailable, "audit_unavailable", "the access log or audit-checkpoints.log is not writable")
        } catch {
            throw APIError(.serviceUnavailable, "storage_unavailable", "the database or the access log is not writable")
        }
        let desks = try await vault.desksWithoutUnlockedSupervisor()
        let staff = Auth.bearer(request).flatMap { vault.sessions.authenticate($0) } != nil
        return try JSONBody.response(
            Ready(
                ready: true, desksWithoutUnlockedSupervisor: staff ? desks : [],
                desksWithoutUnlockedSupervisorCount: desks.count, integrityFailures: vault.integrityFailureCount))
    }
}
