import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import Store

/// Looks up who is calling: `Authorization: Bearer <token>` for the API, or the `loupe_token` cookie the
/// sign-in page sets for the web pages. It never rejects by itself: routes ask for the role they need.
/// A present but unknown token is a 401 at once, so a typo is never mistaken for "signed out".
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = LoupeRequestContext
    let users: any UserLookup

    static let cookieName = "loupe_token"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let token = Self.token(in: request) {
            let clock = ContinuousClock(), start = clock.now
            let found = try await users.user(token: token, logger: context.logger)
            context.logger[metadataKey: "auth_ms"] = "\(Int((clock.now - start).milliseconds))"
            guard let user = found else {
                if request.headers[.authorization] != nil { throw APIError.unauthorized }
                // A stale cookie: treat as signed out and clear it.
                var response = try await next(request, context)
                response.headers.append(HTTPField(name: .setCookie, value: "\(Self.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"))
                return response
            }
            context.user = user
            context.logger[metadataKey: "user"] = "\(user.name)"
        }
        return try await next(request, context)
    }

    static func token(in request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return "" }
            return String(parts[1]).trimmingCharacters(in: .whitespaces)
        }
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == cookieName, !kv[1].isEmpty { return String(kv[1]) }
            }
        }
        return nil
    }
}

/// Token → user. PostgreSQL in the service; tests may substitute.
public protocol UserLookup: Sendable {
    func user(token: String, logger: Logger) async throws -> User?
}

public struct PostgresUserLookup: UserLookup {
    let client: PostgresClient
    let repository = UserRepository()
    public init(client: PostgresClient) { self.client = client }
    public func user(token: String, logger: Logger) async throws -> User? {
        guard !token.isEmpty else { return nil }
        return try await repository.user(token: token, on: client, logger: logger)
    }
}
