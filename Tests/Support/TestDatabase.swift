import Foundation
import Logging
import PostgresNIO
import Store

public let testLogger: Logger = {
    var logger = Logger(label: "loupe.tests")
    logger.logLevel = .warning
    return logger
}()

/// Shared by the test targets that need PostgreSQL.
///
/// A fresh database per test on the private cluster `make test` starts (scripts/postgres.sh), dropped
/// afterwards. `LOUPE_TEST_DATABASE_URL` points elsewhere if needed.
public struct TestDatabase: Sendable {
    public let configuration: DatabaseConfiguration
    public let admin: DatabaseConfiguration

    public static func create() async throws -> TestDatabase {
        let url = ProcessInfo.processInfo.environment["LOUPE_TEST_DATABASE_URL"] ?? "postgres://loupe@127.0.0.1:54329/loupe_test"
        let admin = try DatabaseConfiguration(url: url)
        // A generated name made only of [a-z0-9_]: safe to splice into DDL, which cannot take parameters.
        let name = "loupe_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin.withConnection(logger: testLogger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: testLogger)
        }
        return TestDatabase(configuration: admin.with(database: name), admin: admin)
    }

    public func drop() async {
        _ = try? await admin.withConnection(logger: testLogger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(configuration.database) WITH (FORCE)"), logger: testLogger)
        }
    }

    /// Runs `body` against a fresh database, dropping it however the body ends.
    public static func with<R: Sendable>(_ body: (TestDatabase) async throws -> R) async throws -> R {
        let db = try await create()
        do {
            let result = try await body(db)
            await db.drop()
            return result
        } catch {
            await db.drop()
            throw error
        }
    }

    /// Applies the project's own `Migrations/`; returns what it applied.
    @discardableResult
    public func migrateProject() async throws -> [Migrator.Migration] {
        let migrator = try Migrator(directory: repositoryRoot.appendingPathComponent("Migrations"))
        return try await configuration.withConnection(logger: testLogger) { try await migrator.migrate(on: $0, logger: testLogger) }
    }

    public func scalar(_ sql: String) async throws -> Int {
        try await configuration.withConnection(logger: testLogger) { connection in
            var value = 0
            for try await v in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int.self) { value = v }
            return value
        }
    }
}

public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

extension TestDatabase {
    /// Runs `body` with a connection pool on this database, running for as long as the body.
    public func withClient<R: Sendable>(connections: Int = 6, _ body: @escaping @Sendable (PostgresClient) async throws -> R) async throws -> R {
        try await configuration.withClient(connections: connections, logger: testLogger, body)
    }

    /// The first column of every row of `sql`, as text.
    public func text(_ sql: String) async throws -> [String] {
        try await configuration.withConnection(logger: testLogger) { connection in
            var out: [String] = []
            for try await v in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(String.self) { out.append(v) }
            return out
        }
    }
}

extension PostgresConnection {
    /// The server process behind this connection.
    public func backendPID(logger: Logger = testLogger) async throws -> Int32 {
        try await query("SELECT pg_backend_pid()", logger: logger).collect().decode(Int32.self)[0]
    }

    /// Ends this connection's backend from `client` the way a PostgreSQL shutdown does (FATAL 57P01, then
    /// the socket closes) and returns once this connection has seen the close and its channel has dropped
    /// its handlers: from then on a statement written here is refused without an answer (postgres-nio
    /// 1.33.2; the connection guard's case). Whether the server ended it and the close was seen.
    public func endBackend(using client: PostgresClient, logger: Logger = testLogger) async throws -> Bool {
        let ended = try await client.rows("SELECT pg_terminate_backend(\(try await backendPID(logger: logger)))", logger: logger).decode(Bool.self)
        for _ in 0..<200 where !isClosed { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(200))
        return ended == [true] && isClosed
    }
}
