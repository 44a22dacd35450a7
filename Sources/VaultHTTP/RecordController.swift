import Foundation
import Hummingbird
import VaultCore

/// Case records and the desk taxonomy they are coded with (API.md "Case records, triage and statistics").
struct RecordController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct ItemJSON: Codable {
        let code: String
        let ja: String
        let en: String
        let retired: Bool?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(ja, forKey: .ja)
            try c.encode(en, forKey: .en)
            try c.encode(retired ?? false, forKey: .retired)
        }

        enum CodingKeys: String, CodingKey { case code, ja, en, retired }
    }

    /// `{"categories", "age_bands", "genders", "outcomes", "referrals"}` (JSONBody maps snake_case keys).
    struct TaxonomyJSON: Codable {
        let categories: [ItemJSON]
        let ageBands: [ItemJSON]
        let genders: [ItemJSON]
        let outcomes: [ItemJSON]
        let referrals: [ItemJSON]

        init(_ t: Taxonomy) {
            func items(_ list: [TaxonomyItem]) -> [ItemJSON] {
                list.map { ItemJSON(code: $0.code, ja: $0.ja, en: $0.en, retired: $0.retired) }
            }
            categories = items(t.categories)
            ageBands = items(t.ageBands)
            genders = items(t.genders)
            outcomes = items(t.outcomes)
            referrals = items(t.referrals)
        }

        var taxonomy: Taxonomy {
            func items(_ list: [ItemJSON]) -> [TaxonomyItem] {
                list.map { TaxonomyItem(code: $0.code, ja: $0.ja, en: $0.en, retired: $0.retired ?? false) }
            }
            return Taxonomy(
                categories: items(categories), ageBands: items(ageBands), genders: items(genders),
                outcomes: items(outcomes), referrals: items(referrals))
        }
    }

    /// `{"categories": [code], "age_band", "gender", "outcome", "referrals": [code]}`; absent lists are empty,
    /// absent codes null.
    struct RecordRequest: Decodable {
        let categories: [String]?
        let ageBand: String?
        let gender: String?
        let outcome: String?
        let referrals: [String]?
    }

    struct RecordJSON: Encodable {
        let view: CaseRecordView
        let caseID: ID

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(caseID.description, forKey: .caseId)
            try c.encode(view.record.categories, forKey: .categories)
            try c.encode(view.record.ageBand, forKey: .ageBand)
            try c.encode(view.record.gender, forKey: .gender)
            try c.encode(view.record.outcome, forKey: .outcome)
            try c.encode(view.record.referrals, forKey: .referrals)
            try c.encode(view.firstResponseSeconds, forKey: .firstResponseSeconds)
            try c.encode(view.durationSeconds, forKey: .durationSeconds)
            try c.encode(view.inboundCount, forKey: .inboundCount)
            try c.encode(view.outboundCount, forKey: .outboundCount)
            try c.encode(view.updatedAt.map(Timestamp.format), forKey: .updatedAt)
        }

        enum CodingKeys: String, CodingKey {
            case caseId, categories, ageBand, gender, outcome, referrals, firstResponseSeconds, durationSeconds,
                inboundCount, outboundCount, updatedAt
        }
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.get("/v1/desks/:desk/taxonomy", use: taxonomy)
        router.put("/v1/desks/:desk/taxonomy", use: setTaxonomy)
        router.get("/v1/cases/:id/record", use: record)
        router.put("/v1/cases/:id/record", use: writeRecord)
    }

    /// The staff user behind the request; a relay token is refused with 403 and recorded as a denied `action`.
    func staff(_ request: Request, _ action: String, _ target: String, _ context: VaultRequestContext) async throws
        -> UnlockedUser
    {
        if let token = Auth.bearer(request), let relay = try await vault.authenticateRelay(token) {
            try await vault.denyRelay(relay, action: action, target: target, requestID: context.requestID)
        }
        return try await auth.staff(request)
    }

    @Sendable func taxonomy(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "taxonomy.read", "desk:\(desk)", context)
        let t = try await vault.taxonomy(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(TaxonomyJSON(t))
    }

    @Sendable func setTaxonomy(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let desk = try DeskController.path(context, "desk")
        let user = try await staff(request, "taxonomy.change", "desk:\(desk)", context)
        let body = try await JSONBody.decode(TaxonomyJSON.self, from: request, limit: maxBodyBytes)
        try await vault.setTaxonomy(body.taxonomy, desk: desk, as: user, requestID: context.requestID)
        let t = try await vault.taxonomy(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(TaxonomyJSON(t))
    }

    @Sendable func record(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let id = try context.parameters.requireID("id", "case id")
        let user = try await staff(request, "record.read", "case:\(id)", context)
        let view = try await vault.caseRecord(id, as: user, requestID: context.requestID)
        return try JSONBody.response(RecordJSON(view: view, caseID: id))
    }

    @Sendable func writeRecord(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let id = try context.parameters.requireID("id", "case id")
        let user = try await staff(request, "record.write", "case:\(id)", context)
        let body = try await JSONBody.decode(RecordRequest.self, from: request, limit: maxBodyBytes)
        let input = CaseRecordInput(
            categories: body.categories ?? [], ageBand: body.ageBand, gender: body.gender, outcome: body.outcome,
            referrals: body.referrals ?? [])
        let view = try await vault.writeCaseRecord(input, caseID: id, as: user, requestID: context.requestID)
        return try JSONBody.response(RecordJSON(view: view, caseID: id))
    }
}
