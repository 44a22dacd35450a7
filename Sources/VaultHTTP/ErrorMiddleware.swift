import HTTPTypes
import Hummingbird
import Logging
import VaultCore
import VaultCrypto

/// Outermost middleware: every response gets `X-Request-Id` and `Cache-Control: no-store`; every error
/// becomes the JSON error body. Unexpected errors are logged (type only, never values) and answered 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = Self.map(error, context: context)
            if apiError.status == .forbidden { VaultMetrics.denial() }
            if apiError.status == .unauthorized, request.uri.path == "/v1/sessions" { VaultMetrics.unlockFailure() }
            response = try apiError.response(from: request, context: context)
        }
        response.headers[.requestID] = context.requestID
        response.headers[.cacheControl] = "no-store"
        return response
    }

    static func map(_ error: Error, context: Context) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as VaultError:
            if e.code == .integrity || e.code == .internalError {
                context.logger.error("integrity failure", metadata: ["code": "\(e.code.rawValue)"])
            }
            return APIError(e)
        case let e as CryptoError:
            switch e.code {
            case .decryptionFailed, .signatureInvalid, .keyMismatch, .wrongLabel, .malformed, .invalidLength:
                // Only the code: it is all the log needs.
                context.logger.error("integrity failure", metadata: ["crypto": "\(e.code.rawValue)"])
                return .cryptoIntegrity
            case .initializationFailed, .outOfMemory, .kdfFailed, .randomFailed:
                context.logger.error("crypto failure", metadata: ["crypto": "\(e.code.rawValue)"])
                return APIError(
                    .internalServerError, "internal_error", "unexpected server error; the request id is in X-Request-Id"
                )
            }
        case let e as HTTPResponseError:
            return APIError.from(status: e.status)
        case is DecodingError:
            return .invalid("the JSON body does not match the expected fields and types")
        default:
            context.logger.error("unexpected error", metadata: ["type": "\(String(describing: type(of: error)))"])
            return APIError(
                .internalServerError, "internal_error", "unexpected server error; the request id is in X-Request-Id")
        }
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
}

/// How the API answers an error, for other HTTP front ends on the same router (the console): the status and the
/// stable error code, with the same logging of unexpected errors as the API's middleware.
public func apiErrorStatus(_ error: Error, context: VaultRequestContext) -> (status: HTTPResponse.Status, code: String)
{
    let e = ErrorMiddleware.map(error, context: context)
    return (e.status, e.code)
}
