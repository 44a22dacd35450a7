import Foundation

/// Who is acting, for policy and the access log.
public struct Caller: Sendable {
    public var actor: String
    public var role: String
    public var requestID: String

    public init(actor: String, role: String, requestID: String) {
        self.actor = actor
        self.role = role
        self.requestID = requestID
    }

    /// A CLI operator: `cli:<os user>`.
    public static func cli(requestID: String = ID.v4().description) -> Caller {
        let user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
        return Caller(actor: "cli:\(user)", role: "cli", requestID: requestID)
    }
}
