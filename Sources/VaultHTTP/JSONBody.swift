import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// JSON in and out: content-type check, size limit, strict decoding with errors that name the field
/// (never its value), and encoded responses.
enum JSONBody {
    /// Decodes the request body as `T`.
    /// - Throws: 415 without a JSON content type, 413 past `limit`, 400 for malformed JSON or wrong fields/types.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        guard let ct = request.headers[.contentType]?.lowercased(),
            ct.hasPrefix("application/json") || ct.hasPrefix("application/") && ct.contains("+json")
        else {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(
                .contentTooLarge, "payload_too_large", "the request body exceeds the limit of \(limit) bytes")
        }
        return try decode(T.self, from: Data(buffer: buffer))
    }

    /// Decodes `data` (a body already collected by `raw`) as `T`.
    /// - Throws: 400 for malformed JSON or wrong fields/types.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(T.self, from: data)
        } catch let e as DecodingError {
            throw APIError.invalid(describe(e))
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError.invalid("the body is not valid JSON")
        }
    }

    /// The raw body bytes of a JSON request (content type checked, size limited), exactly as sent.
    /// - Throws: 415 without a JSON content type, 413 past `limit`.
    static func raw(from request: Request, limit: Int) async throws -> [UInt8] {
        guard let ct = request.headers[.contentType]?.lowercased(),
            ct.hasPrefix("application/json") || ct.hasPrefix("application/") && ct.contains("+json")
        else {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer: buffer)
        } catch is NIOTooManyBytesError {
            throw APIError(
                .contentTooLarge, "payload_too_large", "the request body exceeds the limit of \(limit) bytes")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String {
            p.isEmpty
                ? "the body"
                : "`" + p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "`"
        }
        switch e {
        case .keyNotFound(let key, let ctx): return "missing field \(path(ctx.codingPath + [key]))"
        case .typeMismatch(let t, let ctx): return "\(path(ctx.codingPath)) must be of type \(typeName(t))"
        case .valueNotFound(let t, let ctx): return "\(path(ctx.codingPath)) must be a \(typeName(t)), not null"
        case .dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty
                ? "the body is not valid JSON" : "\(path(ctx.codingPath)) has an invalid value"
        @unknown default: return "the JSON body does not match the expected fields"
        }
    }

    /// The JSON key a decoded property came from (`externalId` → `external_id`).
    static func snakeCase(_ key: String) -> String {
        var out = ""
        for c in key {
            if c.isUppercase {
                out += "_" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "string"
        case is Int.Type, is Int64.Type: return "integer"
        case is Bool.Type: return "boolean"
        default: return "object"
        }
    }

    /// A JSON response with `Cache-Control: no-store`.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(value)
        return response(ByteBuffer(bytes: data), status: status)
    }

    /// The headers of every JSON answer, error bodies included.
    static let headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]

    /// A JSON response from bytes already written (see JSONWriter), with `Cache-Control: no-store`.
    static func response(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// Strictly parsed query parameters.
struct Query {
    let request: Request

    func string(_ name: String, maxLength: Int = 256) throws -> String? {
        guard let v = request.uri.queryParameters[Substring(name)] else { return nil }
        guard v.count <= maxLength else { throw APIError.invalid("query parameter `\(name)` is too long") }
        return String(v)
    }

    func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let s = try string(name, maxLength: 20) else { return nil }
        guard let v = Int(s), range.contains(v) else {
            throw APIError.invalid(
                "query parameter `\(name)` must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    func bool(_ name: String) throws -> Bool? {
        guard let s = try string(name, maxLength: 5) else { return nil }
        switch s {
        case "true": return true
        case "false": return false
        default: throw APIError.invalid("query parameter `\(name)` must be true or false")
        }
    }
}
