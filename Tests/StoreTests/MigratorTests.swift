import Foundation
import PostgresNIO
import LoupeTestSupport
import Testing
@testable import Store

struct MigratorTests {
    func directory(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, sql) in files { try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return url
    }

    let files = [
        "0001_first.sql": "CREATE TABLE a (id INT PRIMARY KEY); -- first\nINSERT INTO a VALUES (1);",
        "0002_second.sql": "ALTER TABLE a ADD COLUMN note TEXT DEFAULT 'semi;colon';",
        "0003_function.sql": """
            CREATE FUNCTION a_count() RETURNS BIGINT AS $$
                SELECT count(*) FROM a; -- a semicolon inside the body
            $$ LANGUAGE sql;
            """,
    ]

    @Test func appliesInOrderThenRerunsAsANoOp() async throws {
        let dir = try directory(files)
        try await TestDatabase.with { db in
            let migrator = try Migrator(directory: dir)
            #expect(migrator.migrations.map(\.version) == [1, 2, 3])
            let first = try await db.configuration.withConnection(logger: testLogger) { try await migrator.migrate(on: $0, logger: testLogger) }
            #expect(first.map(\.fileName) == ["0001_first.sql", "0002_second.sql", "0003_function.sql"])
            #expect(try await db.scalar("SELECT a_count()") == 1)
            #expect(try await db.scalar("SELECT count(*) FROM a WHERE note = 'semi;colon'") == 1)
            let second = try await db.configuration.withConnection(logger: testLogger) { try await migrator.migrate(on: $0, logger: testLogger) }
            #expect(second.isEmpty)
            #expect(try await db.scalar("SELECT count(*) FROM schema_migrations") == 3)
        }
    }

    @Test func refusesAChangedFileByName() async throws {
        let dir = try directory(files)
        try await TestDatabase.with { db in
            try await db.configuration.withConnection(logger: testLogger) { try await Migrator(directory: dir).migrate(on: $0, logger: testLogger) }
            try "ALTER TABLE a ADD COLUMN note TEXT;".write(to: dir.appendingPathComponent("0002_second.sql"), atomically: true, encoding: .utf8)
            try "CREATE TABLE later (id INT);".write(to: dir.appendingPathComponent("0004_later.sql"), atomically: true, encoding: .utf8)
            await #expect(throws: Migrator.MigrationError.checksumChanged(file: "0002_second.sql")) {
                try await db.configuration.withConnection(logger: testLogger) { try await Migrator(directory: dir).migrate(on: $0, logger: testLogger) }
            }
            // Nothing after the check ran.
            #expect(try await db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'later'") == 0)
        }
    }

    @Test func aFailingFileRollsBackAndIsNamed() async throws {
        var broken = files
        broken["0004_broken.sql"] = "CREATE TABLE half (id INT); INSERT INTO missing_table VALUES (1);"
        let dir = try directory(broken)
        try await TestDatabase.with { db in
            do {
                try await db.configuration.withConnection(logger: testLogger) { try await Migrator(directory: dir).migrate(on: $0, logger: testLogger) }
                Issue.record("a broken migration applied")
            } catch let Migrator.MigrationError.failed(file, reason) {
                #expect(file == "0004_broken.sql")
                #expect(reason.contains("missing_table"))
            }
            #expect(try await db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'") == 0)
            #expect(try await db.scalar("SELECT count(*) FROM schema_migrations") == 3)
        }
    }

    @Test func concurrentRunsEndWithOneSchema() async throws {
        let dir = try directory(files)
        try await TestDatabase.with { db in
            let migrator = try Migrator(directory: dir)
            let config = db.configuration
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0 ..< 4 {
                    group.addTask {
                        try await config.withConnection(logger: testLogger) { try await migrator.migrate(on: $0, logger: testLogger).count }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results.sorted() == [0, 0, 0, 3])  // one run applied everything, the others found it done
            #expect(try await db.scalar("SELECT count(*) FROM schema_migrations") == 3)
            #expect(try await db.scalar("SELECT count(*) FROM a") == 1)
        }
    }

    @Test func rejectsBadFileNames() throws {
        let dir = try directory(["1_short.sql": "SELECT 1;"])
        #expect(throws: Migrator.MigrationError.badFileName("1_short.sql")) { try Migrator(directory: dir) }
        let dup = try directory(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"])
        #expect(throws: Migrator.MigrationError.duplicateVersion(1, "0001_a.sql", "0001_b.sql")) { try Migrator(directory: dup) }
    }

    @Test func projectMigrationsApply() async throws {
        try await TestDatabase.with { db in
            let applied = try await db.migrateProject()
            #expect(applied.count == (try Migrator(directory: repositoryRoot.appendingPathComponent("Migrations")).migrations.count))
            #expect(try await db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('artisans', 'products', 'product_attributes', 'product_descriptions', 'product_images')") == 5)
        }
    }
}

struct SQLStatementsTests {
    @Test func splitsAtTopLevelSemicolonsOnly() {
        let sql = """
            -- header; comment
            CREATE TABLE t (s TEXT DEFAULT ';', "odd;name" INT);
            /* block; /* nested; */ still */ INSERT INTO t VALUES ('it''s; fine');
            CREATE FUNCTION f() RETURNS INT AS $body$ SELECT 1; $body$ LANGUAGE sql;
            """
        let statements = SQLStatements.split(sql)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix(#"CREATE TABLE t (s TEXT DEFAULT ';', "odd;name" INT)"#))
        #expect(statements[1].hasSuffix("INSERT INTO t VALUES ('it''s; fine')"))
        #expect(statements[2] == "CREATE FUNCTION f() RETURNS INT AS $body$ SELECT 1; $body$ LANGUAGE sql")
    }
}

struct ConfigurationTests {
    @Test func readsURLsAndEnvironment() throws {
        let url = try DatabaseConfiguration(url: "postgres://ann:p%40ss@db.local:6543/shop")
        #expect(url.user == "ann" && url.password == "p@ss" && url.host == "db.local" && url.port == 6543 && url.database == "shop")
        let socket = try DatabaseConfiguration(url: "postgresql://loupe@/loupe?host=/run/postgresql")
        #expect(socket.socketDirectory == "/run/postgresql")
        let env = try DatabaseConfiguration.fromEnvironment(["PGHOST": "10.0.0.5", "PGPORT": "5433", "PGUSER": "bob"])
        #expect(env.host == "10.0.0.5" && env.port == 5433 && env.user == "bob" && env.database == "bob")
        #expect(try DatabaseConfiguration.fromEnvironment(["DATABASE_URL": "postgres://x@h/d", "PGUSER": "ignored"]).user == "x")
        #expect(throws: DatabaseConfiguration.Invalid.self) { try DatabaseConfiguration(url: "mysql://nope") }
        #expect(throws: DatabaseConfiguration.Invalid.self) { try DatabaseConfiguration.fromEnvironment(["PGPORT": "abc"]) }
    }
}
