import Foundation
import Hummingbird
import VaultCore

/// Disclosure packages (API.md "Disclosure and hand-back"): request, the desk's list, approve, decline, the
/// requester's one download, and the auditors' review queue.
struct DisclosureController {
    let vault: Vault
    let auth: Auth
    let maxBodyBytes: Int

    struct CreateRequest: Decodable {
        let recipient: String
        let recipientName: String
        let reason: String
    }

    struct ReviewRequest: Decodable {
        let comment: String
    }

    /// One disclosure; absent values are explicit nulls.
    struct DisclosureJSON: Encodable {
        let s: DisclosureSummary
        let withReview: Bool

        enum Key: String, CodingKey {
            case id, caseId, desk, state, requester, recipient, recipientName, requestedAt, decidedBy, decidedAt
            case packageSize, reason, reviewedBy, reviewedAt
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(s.id.description, forKey: .id)
            try c.encode(s.caseID.description, forKey: .caseId)
            try c.encode(s.desk, forKey: .desk)
            try c.encode(s.state, forKey: .state)
            try c.encode(s.requester, forKey: .requester)
            try c.encode(s.recipient, forKey: .recipient)
            try c.encode(s.recipientName, forKey: .recipientName)
            try c.encode(Timestamp.format(s.requestedAt), forKey: .requestedAt)
            try c.encode(s.decidedBy, forKey: .decidedBy)
            try c.encode(s.decidedAt.map(Timestamp.format), forKey: .decidedAt)
            try c.encode(s.packageSize, forKey: .packageSize)
            try c.encode(s.reason, forKey: .reason)
            if withReview {
                try c.encode(s.reviewer, forKey: .reviewedBy)
                try c.encode(s.reviewedAt.map(Timestamp.format), forKey: .reviewedAt)
            }
        }
    }

    func addRoutes(to router: Router<VaultRequestContext>) {
        router.post("/v1/cases/:id/disclosures", use: create)
        router.get("/v1/disclosures", use: list)
        router.post("/v1/disclosures/:id/approve", use: approve)
        router.post("/v1/disclosures/:id/decline", use: decline)
        router.get("/v1/disclosures/:id/package", use: package)
        router.get("/v1/audit/disclosures", use: queue)
        router.post("/v1/audit/disclosures/:id/review", use: review)
    }

    @Sendable func create(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let caseID = try context.parameters.requireID("id", "case id")
        let body = try await JSONBody.decode(CreateRequest.self, from: request, limit: maxBodyBytes)
        let id = try await vault.requestDisclosure(
            caseID: caseID, recipient: body.recipient, recipientName: body.recipientName, reason: body.reason, as: user,
            requestID: context.requestID)
        return try JSONBody.response(["id": id.description, "state": "pending"], status: .created)
    }

    @Sendable func list(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let desk = try Query(request: request).string("desk", maxLength: 64)
        let items = try await vault.listDisclosures(desk: desk, as: user, requestID: context.requestID)
        return try JSONBody.response(["disclosures": items.map { DisclosureJSON(s: $0, withReview: false) }])
    }

    @Sendable func approve(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try await decide(request, context, approve: true)
    }

    @Sendable func decline(_ request: Request, context: VaultRequestContext) async throws -> Response {
        try await decide(request, context, approve: false)
    }

    func decide(_ request: Request, _ context: VaultRequestContext, approve: Bool) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "disclosure id")
        let s = try await vault.decideDisclosure(id, approve: approve, as: user, requestID: context.requestID)
        return try JSONBody.response(DisclosureJSON(s: s, withReview: false))
    }

    /// The age file, once, to its requester.
    @Sendable func package(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "disclosure id")
        let bytes = try await vault.downloadDisclosure(id, as: user, requestID: context.requestID)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/octet-stream", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"disclosure-\(id).age\"",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    @Sendable func queue(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let items = try await vault.disclosureQueue(as: user, requestID: context.requestID)
        return try JSONBody.response(["disclosures": items.map { DisclosureJSON(s: $0, withReview: true) }])
    }

    @Sendable func review(_ request: Request, context: VaultRequestContext) async throws -> Response {
        let user = try await auth.staff(request)
        let id = try context.parameters.requireID("id", "disclosure id")
        let body = try await JSONBody.decode(ReviewRequest.self, from: request, limit: maxBodyBytes)
        let s = try await vault.reviewDisclosure(id, comment: body.comment, as: user, requestID: context.requestID)
        return try JSONBody.response(DisclosureJSON(s: s, withReview: true))
    }
}
