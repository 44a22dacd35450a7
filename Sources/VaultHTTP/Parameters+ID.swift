import Hummingbird
import VaultCore

extension Parameters {
    /// The UUID in the path parameter `name`; `what` names it in the error (`"case id"`).
    /// - Throws: `APIError.invalid("the <what> in the path must be a UUID")` when it is missing or not a UUID.
    func requireID(_ name: String, _ what: String) throws -> ID {
        guard let raw = get(name), let id = ID(raw) else {
            throw APIError.invalid("the \(what) in the path must be a UUID")
        }
        return id
    }
}
