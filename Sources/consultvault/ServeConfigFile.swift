import Configuration
import Foundation
import VaultCore

/// The `--config` JSON file: one object with the contract's snake_case keys (ops/config.example.json).
/// It is decoded here, with the same type rules as before (an integer is a JSON integer, not `true` or `"1"`;
/// `null` means absent), so that every mistake is named by file and key; swift-configuration then reads it
/// as one layer (an in-memory provider) under the flags and the environment.
struct ServeConfigFile: Sendable {
    let path: String
    let values: [ServeKey: ConfigContent]
    /// Keys the file holds that `serve` does not know (ignored, as before, but worth a warning).
    let unknownKeys: [String]
    /// Spellings such as `maxBodyBytes` that the old decoder accepted, with the documented key.
    let variantKeys: [(spelling: String, key: ServeKey)]

    /// Reads and decodes `path`.
    /// - Throws: `VaultError` naming the file (and the key) for an unreadable file, malformed JSON or a wrong type.
    static func read(path: String) throws -> ServeConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VaultError(
                .notFound,
                "cannot read --config \(path): no such file, a directory, or not readable by this user; check the path and its permissions"
            )
        }
        return try ServeConfigFile(path: path, data: data)
    }

    /// Decodes file content.
    /// - Throws: `VaultError` naming the file (and the key) for malformed JSON, a non-object, a wrong type or a
    ///   key given twice.
    init(path: String, data: Data) throws {
        let prefix = "--config \(path)"
        do {
            // For its message: JSONDecoder says only "not valid JSON", JSONSerialization says where.
            _ = try JSONSerialization.jsonObject(with: data)
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw VaultError(.invalidRequest, "\(prefix) is not valid JSON (\(detail)); fix the syntax")
        }
        let object: [String: FileValue]
        do {
            object = try JSONDecoder().decode([String: FileValue].self, from: data)
        } catch {
            throw VaultError(.invalidRequest, "\(prefix) must hold one JSON object, as in ops/config.example.json")
        }
        var values: [ServeKey: ConfigContent] = [:]
        var unknownKeys: [String] = []
        var variantKeys: [(spelling: String, key: ServeKey)] = []
        var spellings: [ServeKey: String] = [:]
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let (key, exact) = ServeKey.forFileKey(name) else {
                unknownKeys.append(name)
                continue
            }
            if let other = spellings.updateValue(name, forKey: key) {
                throw VaultError(
                    .invalidRequest,
                    "\(prefix): \"\(other)\" and \"\(name)\" both set \(key.rawValue); keep only \"\(key.rawValue)\"")
            }
            if !exact { variantKeys.append((name, key)) }
            if case .null = value { continue }  // null is "not set", as with the old Optional fields
            guard let content = value.content(as: key.kind) else {
                throw VaultError(
                    .invalidRequest, "\(prefix): \"\(name)\" must be \(key.kind.description) (or null for the default)")
            }
            values[key] = content
        }
        self.path = path
        self.values = values
        self.unknownKeys = unknownKeys
        self.variantKeys = variantKeys
    }

    /// One value of the object, told apart with JSONDecoder's rules (the ones the file was read with before):
    /// `true` is not an integer, `1.0` is, `1.5` and `1e30` are not.
    private enum FileValue: Decodable {
        case null, bool
        case int(Int)
        case number
        case string(String)
        case strings([String])
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if (try? c.decode(Bool.self)) != nil {
                self = .bool
            } else if let v = try? c.decode(Int.self) {
                self = .int(v)
            } else if (try? c.decode(Double.self)) != nil {
                self = .number
            } else if let v = try? c.decode(String.self) {
                self = .string(v)
            } else if let v = try? c.decode([String].self) {
                self = .strings(v)
            } else {
                self = .other
            }
        }

        func content(as kind: ServeKey.Kind) -> ConfigContent? {
            switch (kind, self) {
            case (.string, .string(let v)): .string(v)
            case (.integer, .int(let v)): .int(v)
            case (.strings, .strings(let v)): .stringArray(v)
            default: nil
            }
        }
    }
}
