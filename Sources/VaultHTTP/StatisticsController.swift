import Foundation
import Hummingbird
import NIOCore
import VaultCore

/// `GET /v1/desks/{desk}/statistics` (API.md "Case records, triage and statistics"): supervisors of the desk and
/// auditors; every count suppressed below 3.
struct StatisticsController {
    let vault: Vault
    let auth: Auth

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/statistics", use: statistics)
    }

    @Sendable func statistics(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await RecordController(vault: vault, auth: auth, maxBodyBytes: 0).staff(
            request, "statistics.read", "desk:\(desk)", context)
        let q = Query(request: request)
        guard let from = try q.string("from", maxLength: 10), let to = try q.string("to", maxLength: 10) else {
            throw APIError.invalid("`from` and `to` are required dates, YYYY-MM-DD")
        }
        let groupName = try q.string("group", maxLength: 8) ?? "day"
        guard let group = StatisticsGroup(rawValue: groupName) else {
            throw APIError.invalid("`group` must be day, week or month")
        }
        let report = try await vault.statistics(
            desk: desk, from: from, to: to, group: group, as: user, requestID: context.requestID)
        return JSONBody.response(ByteBuffer(bytes: try report.publishedJSON()))
    }
}
