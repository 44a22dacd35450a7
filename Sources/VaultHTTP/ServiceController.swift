import Hummingbird
import VaultCore

/// Health and readiness: no authentication, no content, no names of people.
struct ServiceController {
    let vault: Vault

    struct Ready: Encodable {
        let ready: Bool
        let desksWithoutUnlockedSupervisor: [String]
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/healthz") { _, _ in try JSONBody.response(["status": "ok"]) }
        router.get("/readyz", use: ready)
    }

    @Sendable func ready(_ request: Request, context: VaultRequestContext) async throws -> Response {
        do {
            try await vault.checkWritable()
        } catch {
            throw APIError(.serviceUnavailable, "storage_unavailable", "the database or the access log is not writable")
        }
        let desks = try await vault.desksWithoutUnlockedSupervisor()
        return try JSONBody.response(Ready(ready: true, desksWithoutUnlockedSupervisor: desks))
    }
}
