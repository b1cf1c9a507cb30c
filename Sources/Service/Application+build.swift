import Catalog
import Foundation
import Hummingbird
import Logging
import Mustache
import PostgresNIO
import ServiceLifecycle
import Store

/// What the application is built from. `live` makes the real ones; tests replace single pieces (a
/// generator that fails, a store that drops the database half-way).
public struct ServiceDependencies: Sendable {
    public var database: DatabaseConfiguration
    public var client: PostgresClient
    public var objects: DirectoryObjectStore
    public var drafts: any DraftStore
    public var generator: any DraftGenerator
    public var users: any UserLookup
    /// The generator behind `POST /v1/synthetic-images` (nil: the endpoint answers 503).
    public var synthesizer: (any ImageSynthesizer)?
    /// Scores reviews as they arrive (nil: posting a review answers 503).
    public var reviewScorer: (any ReviewScorer)?
    /// Background services run beside the HTTP server (the model watcher, the object collector).
    public var services: [any Service]

    public init(database: DatabaseConfiguration, client: PostgresClient, objects: DirectoryObjectStore, drafts: any DraftStore,
                generator: any DraftGenerator, users: any UserLookup, synthesizer: (any ImageSynthesizer)? = nil, services: [any Service]) {
        (self.database, self.synthesizer) = (database, synthesizer)
        (self.client, self.objects, self.drafts, self.generator, self.users, self.services) = (client, objects, drafts, generator, users, services)
    }

    /// PostgreSQL pool, the object store directory, the model server with its registry watcher, the collector.
    public static func live(_ configuration: ServiceConfiguration, database: DatabaseConfiguration, logger: Logger) throws -> ServiceDependencies {
        ServiceMetrics.bootstrap()  // the model server's inference timer is made below
        let client = PostgresClient(configuration: database.clientConfiguration(maximumConnections: configuration.databaseConnections),
                                    backgroundLogger: logger)
        let objects = try DirectoryObjectStore(root: URL(fileURLWithPath: configuration.objectsDirectory))
        let drafts = DraftRepository(client: client)
        let server = ModelServer(beam: configuration.beam, lengthPenalty: configuration.lengthPenalty, maxBatch: configuration.inferenceBatch,
                                 gatherWindow: configuration.inferenceGather, operatorEncoder: configuration.operatorEncoder, logger: logger)
        let watcher = ModelWatcher(server: server, client: client, fallback: configuration.fallbackModel,
                                   interval: configuration.modelPollInterval, logger: logger)
        let collector = ObjectCollector(store: objects, drafts: drafts, gracePeriod: configuration.orphanGracePeriod,
                                        interval: configuration.collectorInterval, logger: logger)
        let synthesizer = try configuration.ganModel.map { try GANServer(contentsOf: URL(fileURLWithPath: $0)) }
        let scorer = try configuration.sentimentModel.map { try SentimentServer(contentsOf: URL(fileURLWithPath: $0)) }
        if let scorer { logger.info("sentiment model loaded", metadata: ["version": "\(scorer.version)"]) }
        if let synthesizer { logger.info("synthetic-image generator loaded", metadata: ["version": "\(synthesizer.version)"]) }
        var dependencies = ServiceDependencies(database: database, client: client, objects: objects, drafts: drafts, generator: server,
                                               users: PostgresUserLookup(client: client), synthesizer: synthesizer,
                                               services: [client, watcher, collector])
        dependencies.reviewScorer = scorer
        return dependencies
    }
}

/// The one place the service is wired: `loupe serve` and the tests both call it.
public func buildApplication(_ configuration: ServiceConfiguration, dependencies: ServiceDependencies,
                             logger: Logger) async throws -> some ApplicationProtocol {
    ServiceMetrics.bootstrap()
    let router = try await buildRouter(configuration, dependencies: dependencies, logger: logger)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "loupe"),
        services: dependencies.services,
        logger: logger
    )
    if let directory = configuration.migrationsDirectory {
        let client = dependencies.client
        app.beforeServerStarts {
            let migrator = try Migrator(directory: URL(fileURLWithPath: directory))
            let applied = try await client.withConnection { try await migrator.migrate(on: $0, logger: logger) }
            logger.info("migrations checked", metadata: ["applied": "\(applied.map(\.fileName))", "total": "\(migrator.migrations.count)"])
        }
    }
    return app
}

/// The routes, the middleware and the pages.
public func buildRouter(_ configuration: ServiceConfiguration, dependencies d: ServiceDependencies,
                        logger: Logger) async throws -> Router<LoupeRequestContext> {
    let router = Router(context: LoupeRequestContext.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: AuthenticationMiddleware(users: d.users))
    let limits = DraftUpload.Limits(maxBytes: configuration.maxUploadBytes, maxPhotos: configuration.maxPhotos, maxPixels: configuration.maxPixels)
    let jobs = JobQueue(client: d.client)
    let trigger = RetrainTrigger(queue: jobs, threshold: configuration.retrainAfter)
    let controller = DraftController(drafts: d.drafts, objects: d.objects, generator: d.generator, limits: limits, retrainTrigger: trigger)
    controller.addRoutes(to: router)
    AdminController(jobs: jobs, reports: FeedbackReportRepository(client: d.client)).addRoutes(to: router)
    SyntheticImageController(synthesizer: d.synthesizer, images: SyntheticImageRepository(client: d.client), objects: d.objects,
                             maxCount: configuration.maxSyntheticImages).addRoutes(to: router)
    ReviewController(scorer: d.reviewScorer, reviews: ReviewRepository(client: d.client)).addRoutes(to: router)
    HealthController(client: d.client, drafts: d.drafts, generator: d.generator, openAPI: try ServiceResources.openAPI(),
                     registry: ServiceMetrics.registry).addRoutes(to: router)
    try await PagesController(api: controller, users: d.users, templates: ServiceResources.templates()).addRoutes(to: router)
    return router
}

/// Files shipped inside the module: the OpenAPI document, the page templates and the stylesheet.
public enum ServiceResources {
    public static func openAPI() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json", subdirectory: "Resources") else {
            throw APIError(.internalServerError, "internal", "openapi.json missing from the bundle")
        }
        return try Data(contentsOf: url)
    }

    static func templates() async throws -> MustacheLibrary {
        guard let url = Bundle.module.url(forResource: "templates", withExtension: nil, subdirectory: "Resources") else {
            throw APIError(.internalServerError, "internal", "templates missing from the bundle")
        }
        return try await MustacheLibrary(directory: url.path)
    }

    static func stylesheet() throws -> Data {
        guard let url = Bundle.module.url(forResource: "loupe", withExtension: "css", subdirectory: "Resources") else {
            throw APIError(.internalServerError, "internal", "loupe.css missing from the bundle")
        }
        return try Data(contentsOf: url)
    }
}
