import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Where PostgreSQL is: from `DATABASE_URL` (`postgres://user:password@host:port/database`, with
/// `?host=/socket/dir` for a Unix socket), else libpq's `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
/// `PGDATABASE`, else defaults (localhost:5432, user postgres). Command-line flags override both.
public struct DatabaseConfiguration: Sendable, Equatable {
    public var host = "localhost"
    public var port = 5432
    public var user = "postgres"
    public var password: String?
    public var database = "postgres"
    /// A Unix-socket directory (libpq style); wins over host and port when set.
    public var socketDirectory: String?

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql"
        else { throw Invalid(description: "DATABASE_URL must look like postgres://user:password@host:port/database") }
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port { self.port = port }
        if let user = components.user, !user.isEmpty { self.user = user.removingPercentEncoding ?? user }
        password = components.password?.removingPercentEncoding
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty { database = path }
        for item in components.queryItems ?? [] where item.name == "host" {
            if let value = item.value, value.hasPrefix("/") { socketDirectory = value }
        }
    }

    /// `DATABASE_URL` first, then the `PG*` variables.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseConfiguration {
        if let url = environment["DATABASE_URL"], !url.isEmpty { return try DatabaseConfiguration(url: url) }
        var config = DatabaseConfiguration()
        if let host = environment["PGHOST"], !host.isEmpty {
            if host.hasPrefix("/") { config.socketDirectory = host } else { config.host = host }
        }
        if let port = environment["PGPORT"] {
            guard let value = Int(port) else { throw Invalid(description: "PGPORT is not a number: \(port)") }
            config.port = value
        }
        if let user = environment["PGUSER"], !user.isEmpty { config.user = user }
        if let password = environment["PGPASSWORD"] { config.password = password }
        config.database = environment["PGDATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.user
        return config
    }

    /// The same server, another database.
    public func with(database: String) -> DatabaseConfiguration {
        var copy = self
        copy.database = database
        return copy
    }

    /// A printable form without the password.
    public var redacted: String {
        if let socketDirectory { return "\(user)@\(socketDirectory)/.s.PGSQL.\(port)/\(database)" }
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        if let socketDirectory {
            return .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }

    /// A connection pool for long-running processes (the service, the worker).
    public func clientConfiguration(maximumConnections: Int = 20) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        config.options.maximumConnections = maximumConnections
        config.options.connectTimeout = .seconds(5)
        return config
    }

    /// Opens one connection. The caller closes it (`try await connection.close()`).
    public func connect(logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: connectionConfiguration, id: Self.nextID(), logger: logger)
        } catch {
            throw Invalid(description: "cannot connect to \(redacted): \(String(reflecting: error))")
        }
    }

    /// Runs `body` with a connection that is closed afterwards, however `body` ends.
    @discardableResult
    public func withConnection<R: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> R) async throws -> R {
        let connection = try await connect(logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static let counter = IDCounter()
    static func nextID() -> Int { counter.next() }
}

final class IDCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}

extension PostgresClient {
    /// Returns once the pool answers a query. A connection leased in the instant before `run()` has
    /// started can wait forever (two clean-clone test runs hung that way, every thread asleep), so code
    /// that starts `run()` itself and uses the client at once waits here first: each probe is abandoned
    /// after a second and tried again.
    public func waitUntilRunning(logger: Logger, attempts: Int = 30) async throws {
        for attempt in 1 ... attempts {
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for try await _ in try await self.query("SELECT 1", logger: logger) {}
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(1))
                    return false
                }
                let first = try await group.next() ?? false
                group.cancelAll()
                return first
            }
            if answered { return }
            logger.debug("database pool not answering yet", metadata: ["attempt": "\(attempt)"])
        }
        throw DatabaseConfiguration.Invalid(description: "the database pool did not answer within \(attempts) seconds")
    }
}

extension DatabaseConfiguration {
    /// Runs `body` with a connection pool that runs for exactly as long as the body, and answers before
    /// the body starts (`waitUntilRunning`).
    public func withClient<R: Sendable>(connections: Int, logger: Logger,
                                        _ body: @escaping @Sendable (PostgresClient) async throws -> R) async throws -> R {
        let client = PostgresClient(configuration: clientConfiguration(maximumConnections: connections), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask { await client.run(); return nil }
            defer { group.cancelAll() }
            try await client.waitUntilRunning(logger: logger)
            return try await body(client)
        }
    }
}
