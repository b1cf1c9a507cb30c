import Foundation
import Hummingbird
import Store

/// The per-request context: Hummingbird's core storage plus the signed-in user, if any.
public struct LoupeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var user: User?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        user = nil
    }

    /// Request bodies are read by the handlers themselves with their own limits (uploads: 15 MiB).
    public var maxUploadSize: Int { 1024 * 1024 }

    public var responseEncoder: JSONEncoder { .loupe }

    /// The signed-in user, or 401.
    public func requireUser() throws -> User {
        guard let user else { throw APIError.unauthorized }
        return user
    }

    /// A moderator or admin, or 403 (401 when nobody is signed in).
    public func requireModerator() throws -> User {
        let user = try requireUser()
        guard user.role.canModerate else { throw APIError.forbidden("only moderators and admins can do this") }
        return user
    }

    /// An admin, or 403.
    public func requireAdmin() throws -> User {
        let user = try requireUser()
        guard user.role == .admin else { throw APIError.forbidden("only admins can do this") }
        return user
    }

    public func requireArtisan() throws -> User {
        let user = try requireUser()
        guard user.role == .artisan else { throw APIError.forbidden("only artisans can do this") }
        return user
    }
}
