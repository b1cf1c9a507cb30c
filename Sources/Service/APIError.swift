import Captioner
import Foundation
import HTTPTypes
import Hummingbird
import Imaging
import Logging
import NIOCore
import PostgresNIO
import Store

/// An error a client may see: a status, a stable machine-readable code and a message a person can act
/// on. Every error a handler throws is mapped to one of these in `APIError.from(_:)`, the one place
/// where statuses are decided; anything unexpected becomes a 500 that reveals nothing internal.
public struct APIError: Error, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        (self.status, self.code, self.message) = (status, code, message)
    }

    static func badRequest(_ message: String) -> APIError { .init(.badRequest, "bad_request", message) }
    static func notFound(_ message: String) -> APIError { .init(.notFound, "not_found", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer lp_...)")
    static func forbidden(_ message: String) -> APIError { .init(.forbidden, "forbidden", message) }
    static func unprocessable(_ code: String, _ message: String) -> APIError { .init(.unprocessableContent, code, message) }

    /// The mapping from every error the service knows to a status.
    static func from(_ error: any Error) -> APIError? {
        switch transactionCause(error) {
        case let error as APIError: return error
        case is PostgresTransactionError: return .init(.serviceUnavailable, "database_unavailable", "the database is unavailable; try again")
        case let error as DraftError:
            switch error {
            case .notFound: return .notFound(error.description)
            case .illegalTransition: return .init(.conflict, "illegal_state", error.description)
            case .invalidField, .invalid: return .unprocessable("invalid_field", error.description)
            case .artisanRequired: return .forbidden(error.description)
            case .cannotPublish: return .unprocessable("cannot_publish", error.description)
            }
        case let error as ImageError:
            return .unprocessable("invalid_image", error.description)
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return .init(.contentTooLarge, "too_large", error.body ?? "the request body is too large")
            case .notFound: return .notFound(error.body ?? "no such route")
            case .methodNotAllowed: return .init(.methodNotAllowed, "method_not_allowed", error.body ?? "method not allowed")
            default: return .init(error.status, "http_\(error.status.code)", error.body ?? error.status.reasonPhrase)
            }
        case let error as DecodingError:
            return .badRequest("malformed JSON: \(describe(error))")
        case is PSQLError, is PostgresDecodingError, is DatabaseConnectionLost:
            return .init(.serviceUnavailable, "database_unavailable", "the database is unavailable; try again")
        case is ModelUnavailable:
            return .init(.serviceUnavailable, "model_unavailable", "no captioner model is loaded yet; try again shortly")
        default:
            return nil
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        case .keyNotFound(let key, let c): return "missing field '\(key.stringValue)'\(path(c))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type\(path(c)): \(c.debugDescription)"
        @unknown default: return "invalid JSON"
        }
    }

    var body: [String: [String: String]] { ["error": ["code": code, "message": message]] }
}

/// The model server has nothing loaded.
public struct ModelUnavailable: Error {}

/// Turns every thrown error into a JSON error (API) or a small HTML page (web pages).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let api = APIError.from(error) ?? APIError(.internalServerError, "internal", "internal error")
            if api.status == .internalServerError || api.status == .serviceUnavailable {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            }
            var headers: HTTPFields = [:]
            if api.status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
            if request.uri.path.hasPrefix("/v1/") || request.uri.path == "/readyz" || request.headers[.accept]?.contains("application/json") == true {
                headers[.contentType] = "application/json; charset=utf-8"
                let data = try JSONEncoder.loupe.encode(api.body)
                return Response(status: api.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
            if api.status == .unauthorized {
                return Response(status: .seeOther, headers: [.location: "/login"])
            }
            headers[.contentType] = "text/html; charset=utf-8"
            let html = """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(api.status.code) · Loupe</title>
                <link rel="stylesheet" href="/static/loupe.css"></head><body><main><h1>\(api.status.code) \(escapeHTML(api.status.reasonPhrase))</h1>
                <p class="error">\(escapeHTML(api.message))</p><p><a href="/">Back</a></p></main></body></html>
                """
            return Response(status: api.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
        }
    }
}

func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
