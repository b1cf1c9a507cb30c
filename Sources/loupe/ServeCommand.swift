import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Service
import Store

/// `loupe serve`: the listing service. Every option also reads an environment variable; flags win.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the listing service (HTTP API, web pages, metrics) over PostgreSQL.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var runtime: RuntimeOptions
    @Option(help: "Address to listen on (LOUPE_HOST).") var host: String?
    @Option(help: "Port (LOUPE_PORT, default 8080).") var port: Int?
    @Option(help: "Object store directory (LOUPE_OBJECTS, default .cache/objects).") var objects: String?
    @Flag(help: "Apply pending migrations before serving (LOUPE_MIGRATE=1).") var migrate = false
    @Option(help: "Migrations directory.") var migrations = "Migrations"
    @Option(help: "Model served while the registry has no active captioner (LOUPE_MODEL, default .cache/models/captioner/default.pt; 'none' to wait).")
    var model: String?
    @Option(help: "Seconds between checks for a newly promoted model.") var modelPoll: Double = 5
    @Option(help: "Beam width for drafts.") var beam = 3
    @OptionGroup var search: SearchOptions
    @Flag(help: ArgumentHelp("Run the encoder as libtorch operators, the reference path, for side-by-side measurements.", visibility: .hidden))
    var operatorEncoder = false
    @Option(help: "Most uploads drafted together: those that arrive while a batch runs wait and go as the next one.") var inferenceBatch = 8
    @Option(help: "Milliseconds a batch waits for as many uploads as the previous one saw (0: never waits).") var inferenceGatherMs = 70
    @Option(help: "Largest upload in MiB (LOUPE_MAX_UPLOAD_MIB, default 15).") var maxUploadMib: Int?
    @Option(help: "Most photos per draft.") var maxPhotos = 8
    @Option(help: "Queue a retraining after this many approved edits and feedback records (LOUPE_RETRAIN_AFTER, default 50; 0: never).")
    var retrainAfter: Int?
    @Option(help: "Conditional GAN for POST /v1/synthetic-images (LOUPE_GAN_MODEL, default .cache/models/gan/catalogue.pt when present; 'none': off).")
    var ganModel: String?
    @Option(help: "Sentiment model that scores reviews as they arrive (LOUPE_SENTIMENT_MODEL, default: the one set by `loupe train sentiment --set-default`, when present; 'none': off).")
    var sentimentModel: String?

    func run() async throws {
        try runtime.apply()
        let environment = ProcessInfo.processInfo.environment
        var config = ServiceConfiguration()
        config.host = host ?? environment["LOUPE_HOST"] ?? config.host
        config.port = try port ?? environment["LOUPE_PORT"].map { guard let p = Int($0) else { throw ValidationError("LOUPE_PORT is not a number") }; return p } ?? config.port
        config.objectsDirectory = objects ?? environment["LOUPE_OBJECTS"] ?? config.objectsDirectory
        config.migrationsDirectory = migrate || environment["LOUPE_MIGRATE"] == "1" ? migrations : nil
        let fallback = model ?? environment["LOUPE_MODEL"] ?? ".cache/models/captioner/default.pt"
        config.fallbackModel = fallback == "none" ? nil : fallback
        config.modelPollInterval = .milliseconds(Int(modelPoll * 1000))
        guard (1 ... 10).contains(beam) else { throw ValidationError("--beam must be 1-10") }
        config.beam = beam
        config.lengthPenalty = search.lengthPenalty
        guard (1 ... 32).contains(inferenceBatch) else { throw ValidationError("--inference-batch must be 1-32") }
        config.inferenceBatch = inferenceBatch
        config.operatorEncoder = operatorEncoder
        guard (0 ... 1000).contains(inferenceGatherMs) else { throw ValidationError("--inference-gather-ms must be 0-1000") }
        config.inferenceGather = .milliseconds(inferenceGatherMs)
        if let mib = try maxUploadMib ?? environment["LOUPE_MAX_UPLOAD_MIB"].map({ guard let v = Int($0) else { throw ValidationError("LOUPE_MAX_UPLOAD_MIB is not a number") }; return v }) {
            guard mib > 0 else { throw ValidationError("the upload limit must be positive") }
            config.maxUploadBytes = mib * 1024 * 1024
        }
        config.maxPhotos = maxPhotos
        if let n = try retrainAfter ?? environment["LOUPE_RETRAIN_AFTER"].map({ guard let v = Int($0) else { throw ValidationError("LOUPE_RETRAIN_AFTER is not a number") }; return v }) {
            guard n >= 0 else { throw ValidationError("--retrain-after is not negative") }
            config.retrainAfter = n
        }
        let gan = ganModel ?? environment["LOUPE_GAN_MODEL"]
        if let gan {
            config.ganModel = gan == "none" ? nil : gan
        } else if FileManager.default.fileExists(atPath: ".cache/models/gan/catalogue.pt") {
            config.ganModel = ".cache/models/gan/catalogue.pt"
        }
        let sentiment = sentimentModel ?? environment["LOUPE_SENTIMENT_MODEL"]
        if let sentiment {
            config.sentimentModel = sentiment == "none" ? nil : sentiment
        } else if FileManager.default.fileExists(atPath: SentimentPaths.defaultModel) {
            config.sentimentModel = SentimentPaths.defaultModel
        }
        let logger = makeLogger("loupe.serve")
        let dependencies = try ServiceDependencies.live(config, database: try database.configuration(), logger: logger)
        let app = try await buildApplication(config, dependencies: dependencies, logger: logger)
        // SIGTERM / SIGINT: stop accepting, finish the requests in flight, then stop the services.
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

/// `loupe users add|list|disable`: accounts and their bearer tokens.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Service accounts and their tokens.", subcommands: [Add.self, List.self, Disable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and print its token (shown once; only its hash is stored).")
        @Argument(help: "User name (an artisan's name is also their catalogue handle).") var name: String
        @Option(help: "artisan, moderator or admin.") var role: String
        @Flag(help: "Print only the token (for scripts).") var quiet = false
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be artisan, moderator or admin") }
            let logger = makeLogger("loupe.users")
            do {
                let (user, token) = try await database.configuration().withConnection(logger: logger) {
                    try await UserRepository().add(name: name, role: role, on: $0, logger: logger)
                }
                if quiet { print(token) } else { print("created \(user.role.rawValue) \(user.name) (id \(user.id)); token (shown once):\n\(token)") }
            } catch let error as UserError {
                printError("loupe users add: \(error)")
                throw ExitCode(2)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users (never their tokens).")
        @OptionGroup var database: DatabaseOptions
        func run() async throws {
            let logger = makeLogger("loupe.users")
            let users = try await database.configuration().withConnection(logger: logger) { try await UserRepository().list(on: $0, logger: logger) }
            for (user, created, disabled) in users {
                print("\(user.id)\t\(user.name)\t\(user.role.rawValue)\t\(created.formatted(.iso8601))\(disabled ? "\tdisabled" : "")")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: their token stops working at once.")
        @Argument var name: String
        @OptionGroup var database: DatabaseOptions
        func run() async throws {
            let logger = makeLogger("loupe.users")
            let found = try await database.configuration().withConnection(logger: logger) {
                try await UserRepository().disable(name: name, on: $0, logger: logger)
            }
            guard found else { printError("no enabled user named \(name)"); throw ExitCode(1) }
            print("disabled \(name)")
        }
    }
}
