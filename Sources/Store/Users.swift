import Catalog
import Foundation
import Logging
import PostgresNIO

/// What a user may do. Artisans act on their own drafts; moderators moderate; admins do both and more.
public enum Role: String, Codable, Sendable, CaseIterable {
    case artisan, moderator, admin

    public var canModerate: Bool { self != .artisan }
}

/// A signed-in user, as the service's handlers see it.
public struct User: Codable, Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let role: Role
    /// The catalogue artisan an artisan user acts for; nil for moderators and admins.
    public let artisanID: Int64?

    public init(id: Int64, name: String, role: Role, artisanID: Int64?) {
        (self.id, self.name, self.role, self.artisanID) = (id, name, role, artisanID)
    }
}

/// Bearer tokens: 32 random bytes, base64url, with a `lp_` prefix so a leaked one is recognisable.
/// Only the SHA-256 is stored: with 256 bits of entropy a fast hash is enough (no password stretching).
public enum Token {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0 ..< 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        let text = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "lp_" + text
    }

    public static func hash(_ token: String) -> String { sha256Hex(Data(token.utf8)) }
}

public enum UserError: Error, CustomStringConvertible, Equatable {
    case invalidName(String)
    case duplicateName(String)

    public var description: String {
        switch self {
        case .invalidName(let name): "user name \"\(name)\" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        case .duplicateName(let name): "a user named \"\(name)\" already exists"
        }
    }
}

/// Users and their tokens (`users`).
public struct UserRepository: Sendable {
    public init() {}

    static func validName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        func plain(_ c: Unicode.Scalar) -> Bool { c.isASCII && (CharacterSet.alphanumerics.contains(c)) }
        return plain(first) && name.unicodeScalars.allSatisfy { plain($0) || "._-".unicodeScalars.contains($0) }
    }

    /// Creates a user and returns it with its token, which is shown once and never stored. An artisan
    /// user acts for the catalogue artisan with the same handle, created if it does not exist yet.
    public func add(name: String, role: Role, on connection: PostgresConnection, logger: Logger) async throws -> (User, token: String) {
        guard Self.validName(name) else { throw UserError.invalidName(name) }
        let token = Token.generate()
        let hash = Token.hash(token)
        do {
            return try await connection.withTransaction(logger: logger) { tx in
                var artisanID: Int64?
                if role == .artisan {
                    let rows = try await tx.query("""
                        INSERT INTO artisans (handle, display_name) VALUES (\(name), \(name))
                        ON CONFLICT (handle) DO UPDATE SET handle = EXCLUDED.handle RETURNING id
                        """, logger: logger)
                    for try await id in rows.decode(Int64.self) { artisanID = id }
                }
                let rows = try await tx.query("""
                    INSERT INTO users (name, role, token_hash, artisan_id) VALUES (\(name), \(role.rawValue), \(hash), \(artisanID))
                    RETURNING id
                    """, logger: logger)
                var id: Int64 = 0
                for try await value in rows.decode(Int64.self) { id = value }
                return (User(id: id, name: name, role: role, artisanID: artisanID), token)
            }
        } catch {
            if let psql = transactionCause(error) as? PSQLError, psql.serverInfo?[.sqlState] == "23505" { throw UserError.duplicateName(name) }
            throw error
        }
    }

    /// The enabled user whose token this is, if any.
    public func user(token: String, on client: PostgresClient, logger: Logger) async throws -> User? {
        let rows = try await client.rows("""
            SELECT id, name, role, artisan_id FROM users WHERE token_hash = \(Token.hash(token)) AND disabled_at IS NULL
            """, logger: logger)
        // At most one row (token_hash is unique).
        guard let (id, name, role, artisan) = try rows.decode((Int64, String, String, Int64?).self).first,
              let role = Role(rawValue: role) else { return nil }
        return User(id: id, name: name, role: role, artisanID: artisan)
    }

    public func list(on connection: PostgresConnection, logger: Logger) async throws -> [(User, createdAt: Date, disabled: Bool)] {
        let rows = try await connection.query(
            "SELECT id, name, role, artisan_id, created_at, disabled_at IS NOT NULL FROM users ORDER BY id", logger: logger)
        var out: [(User, Date, Bool)] = []
        for try await (id, name, role, artisan, created, disabled) in rows.decode((Int64, String, String, Int64?, Date, Bool).self) {
            out.append((User(id: id, name: name, role: Role(rawValue: role) ?? .artisan, artisanID: artisan), created, disabled))
        }
        return out
    }

    /// Disables a user: their token stops working at once. Returns false if there is no such user.
    public func disable(name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "UPDATE users SET disabled_at = now() WHERE name = \(name) AND disabled_at IS NULL RETURNING id", logger: logger)
        var found = false
        for try await _ in rows.decode(Int64.self) { found = true }
        return found
    }
}
