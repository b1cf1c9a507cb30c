import Catalog
import Foundation
import Logging
import PostgresNIO

/// Applies `Migrations/NNNN_name.sql` in order. Each file runs in its own transaction and is recorded
/// in `schema_migrations` with its SHA-256; a PostgreSQL advisory lock serialises concurrent runs (several
/// replicas starting, or a CLI beside a service), so every file is applied exactly once. A file that was
/// applied and has changed since is an error that names it: migrations are append-only.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public let checksum: String
        public var fileName: String { String(format: "%04d_%@.sql", version, name) }
    }

    public enum MigrationError: Error, CustomStringConvertible, Equatable {
        case badFileName(String)
        case duplicateVersion(Int, String, String)
        case checksumChanged(file: String)
        case missingFile(version: Int, name: String)
        case failed(file: String, reason: String)

        public var description: String {
            switch self {
            case .badFileName(let f): "migration file name \(f) is not NNNN_name.sql"
            case let .duplicateVersion(v, a, b): "migrations \(a) and \(b) share version \(v)"
            case .checksumChanged(let f): "migration \(f) was changed after it was applied; add a new migration instead"
            case let .missingFile(v, n): "migration \(String(format: "%04d", v))_\(n).sql was applied but its file is gone"
            case let .failed(f, r): "migration \(f) failed: \(r)"
            }
        }
    }

    /// Arbitrary constant naming Loupe's migration lock in `pg_advisory_lock`.
    public static let lockKey: Int64 = 0x4C4F_5550_454D_4947  // "LOUPEMIG"

    public let migrations: [Migration]

    public init(migrations: [Migration]) { self.migrations = migrations.sorted { $0.version < $1.version } }

    /// Reads every `*.sql` file of `directory`.
    public init(directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        var byVersion: [Int: String] = [:]
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]),
                  stem[..<underscore].count == 4, stem.index(after: underscore) < stem.endIndex
            else { throw MigrationError.badFileName(file) }
            if let other = byVersion[version] { throw MigrationError.duplicateVersion(version, other, file) }
            byVersion[version] = file
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]),
                                        sql: String(decoding: data, as: UTF8.self),
                                        checksum: sha256Hex(data)))
        }
        self.init(migrations: migrations)
    }

    /// Applies what is pending; returns the files applied by this call (empty when up to date).
    @discardableResult
    public func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let applied = try await apply(on: connection, logger: logger)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var recorded: [Int: (String, String)] = [:]
        for try await (version, name, checksum) in try await connection.query(
            "SELECT version, name, checksum FROM schema_migrations", logger: logger
        ).decode((Int, String, String).self) {
            recorded[version] = (name, checksum)
        }
        // Verify history before changing anything.
        for (version, (name, checksum)) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let migration = migrations.first(where: { $0.version == version }) else {
                throw MigrationError.missingFile(version: version, name: name)
            }
            if migration.checksum != checksum { throw MigrationError.checksumChanged(file: migration.fileName) }
        }
        var applied: [Migration] = []
        for migration in migrations where recorded[migration.version] == nil {
            logger.info("applying migration", metadata: ["file": "\(migration.fileName)"])
            do {
                try await connection.withTransaction(logger: logger) { tx in
                    for statement in SQLStatements.split(migration.sql) {
                        try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await tx.query("""
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """, logger: logger)
                }
            } catch let error as PostgresTransactionError {
                throw MigrationError.failed(file: migration.fileName, reason: postgresMessage(error))
            }
            applied.append(migration)
        }
        return applied
    }
}
