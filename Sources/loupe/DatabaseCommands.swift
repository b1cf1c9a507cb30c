import ArgumentParser
import Catalog
import Foundation
import Logging
import Store

/// Connection settings: `--database-url`, else `DATABASE_URL`, else the `PG*` variables.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "postgres://user:password@host:port/database (default: DATABASE_URL or PG* variables).")
    var databaseURL: String?

    func configuration() throws -> DatabaseConfiguration {
        if let databaseURL { return try DatabaseConfiguration(url: databaseURL) }
        return try DatabaseConfiguration.fromEnvironment()
    }
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
    return logger
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending SQL migrations in order (safe to run concurrently).")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Directory of NNNN_name.sql files.") var migrations = "Migrations"

    func run() async throws {
        let logger = makeLogger("loupe.migrate")
        let migrator = try Migrator(directory: URL(fileURLWithPath: migrations))
        let config = try database.configuration()
        let applied = try await config.withConnection(logger: logger) { try await migrator.migrate(on: $0, logger: logger) }
        if applied.isEmpty {
            print("database \(config.redacted) is up to date (\(migrator.migrations.count) migrations)")
        } else {
            for m in applied { print("applied \(m.fileName)") }
        }
    }
}

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "The product catalogue in PostgreSQL and the object store.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a catalogue directory (catalogue.jsonl or catalogue.csv + images) idempotently.")

        @Argument(help: "Catalogue directory.") var directory: String
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Object store directory (default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
        @Option(help: "Rows per transaction.") var batchSize = 200

        func run() async throws {
            let logger = makeLogger("loupe.catalog")
            let root = objects ?? ProcessInfo.processInfo.environment["LOUPE_OBJECTS"] ?? ".cache/objects"
            var importer = CatalogImporter(store: try DirectoryObjectStore(root: URL(fileURLWithPath: root)))
            importer.batchSize = batchSize
            let progress = ProgressBar(label: "importing")
            let report = try await database.configuration().withConnection(logger: logger) { connection in
                try await importer.importDirectory(URL(fileURLWithPath: directory), connection: connection, logger: logger) {
                    progress.update($0, $1)
                }
            }
            progress.finish()
            for failure in report.failures { printError("\(directory): \(failure)") }
            print("imported \(report.imported) products, \(report.alreadyPresent) already present, \(report.failures.count) rejected; \(report.imagesStored) images in \(root)")
            if !report.failures.isEmpty { throw ExitCode(2) }
        }
    }
}
