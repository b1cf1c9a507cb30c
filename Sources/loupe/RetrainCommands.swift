import ArgumentParser
import Captioner
import Dispatch
import Foundation
import Logging
import PostgresNIO
import Retraining
import Store

/// Runs `body` with a PostgreSQL pool that runs for exactly as long as the body.
func withClient<R: Sendable>(_ database: DatabaseOptions, logger: Logger, connections: Int = 4,
                             _ body: @escaping @Sendable (PostgresClient) async throws -> R) async throws -> R {
    try await database.configuration().withClient(connections: connections, logger: logger, body)
}

/// Options a retraining request can set (stored in the job's payload).
struct RetrainOptions: ParsableArguments {
    @Option(help: "Fine-tuning epochs (default 8).") var epochs: Int?
    @Option(name: .customLong("lr"), help: "Peak learning rate (default 3e-4).") var learningRate: Double?
    @Option(help: "Cached augmented views per training photo (default 4).") var views: Int?
    @Option(help: "Times each approved listing is repeated in the training set (default 3).") var listingWeight: Int?
    @Option(help: "Largest allowed drop of any held-out figure for promotion (default 0.02).") var tolerance: Double?
    @Option(help: "Use at most N catalogue training products (quick runs).") var catalogueLimit: Int?
    @Option(help: "Evaluate on the first N held-out products only (quick runs).") var evaluationLimit: Int?
    @Option(help: "Beam width of the held-out evaluation (default 3).") var beam: Int?

    func request(reason: String?) throws -> RetrainRequest {
        var r = RetrainRequest()
        (r.reason, r.epochs, r.learningRate, r.views, r.listingWeight) = (reason, epochs, learningRate, views, listingWeight)
        (r.tolerance, r.catalogueLimit, r.evaluationLimit, r.beam) = (tolerance, catalogueLimit, evaluationLimit, beam)
        try r.validate()
        return r
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Claim and run background jobs (retraining) from the PostgreSQL job queue.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var runtime: RuntimeOptions
    @Option(help: "Worker name in the jobs table (default: host-pid).") var name: String?
    @Option(help: "Seconds without a heartbeat after which another worker takes a job over.") var lease = 60
    @Option(help: "Seconds between polls of an empty queue.") var poll = 5.0
    @Flag(help: "Run one job, then exit.") var once = false
    @Flag(help: "Exit when the queue has nothing to claim.") var exitWhenIdle = false
    @Option(help: "Object store directory (default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
    @Option(help: "Where retrained models are written.") var models = ".cache/models/captioner"
    @Option(help: "Where retraining runs keep their checkpoints and plots.") var runs = ".cache/runs"
    @Option(help: "Cache of encoder features (frozen encoder).") var features = ".cache/features"
    @OptionGroup var defaults: RetrainOptions

    func run() async throws {
        try runtime.apply()
        guard lease >= 3 else { throw ValidationError("--lease must be at least 3 seconds") }
        let logger = makeLogger("loupe.worker")
        var base = RetrainRequest.standard
        base = try defaults.request(reason: nil).merged(over: base)
        let settings = RetrainSettings(objects: URL(fileURLWithPath: objects ?? Paths.objects), modelsDirectory: URL(fileURLWithPath: models),
                                       runsDirectory: URL(fileURLWithPath: runs), cacheDirectory: URL(fileURLWithPath: features),
                                       defaults: base)
        let workerName = name ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let (once, exitWhenIdle, lease, poll) = (self.once, self.exitWhenIdle, self.lease, self.poll)
        let ran = try await withClient(database, logger: logger) { client in
            let worker = Worker(name: workerName, queue: JobQueue(client: client), handlers: [.retrain: RetrainJob(settings: settings)],
                                lease: .seconds(lease), poll: .milliseconds(Int(poll * 1000)), logger: logger)
            let signals = ShutdownSignals { worker.requestShutdown() }
            defer { signals.cancel() }
            return try await worker.run(once: once, exitWhenIdle: exitWhenIdle)
        }
        print("worker \(workerName) ran \(ran) job\(ran == 1 ? "" : "s")")
    }
}

/// SIGTERM and SIGINT call `handler` (once each) instead of killing the process.
final class ShutdownSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    init(_ handler: @escaping @Sendable () -> Void) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }
    func cancel() { sources.forEach { $0.cancel() } }
}

struct RetrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Queue a retraining of the captioner on the catalogue plus approved listings (a worker runs it).")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var options: RetrainOptions
    @Option(help: "Why (recorded with the job).") var reason = "requested from the command line"
    @Flag(help: "Wait for the job to finish and print its result.") var wait = false

    func run() async throws {
        let logger = makeLogger("loupe.retrain")
        let payload = String(decoding: try JSONEncoder().encode(options.request(reason: reason)), as: UTF8.self)
        let wait = self.wait
        let job = try await withClient(database, logger: logger) { client in
            let queue = JobQueue(client: client)
            let (job, created) = try await queue.enqueue(.retrain, payload: payload, logger: logger)
            print(created ? "queued retraining job \(job.id)" : "retraining job \(job.id) is already \(job.status.rawValue); joined it")
            guard wait else { return job }
            var last = ""
            while true {
                let now = try await queue.find(job.id, logger: logger)
                if now.status == .succeeded || now.status == .failed { return now }
                if now.progress != last, !now.progress.isEmpty { printError("job \(job.id): \(now.progress)"); last = now.progress }
                try await Task.sleep(for: .seconds(2))
            }
        }
        guard wait else { return }
        print(job.result ?? job.error ?? "")
        if job.status == .failed { throw ExitCode(1) }
    }
}

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "The model registry: list, promote, roll back.", subcommands: [List.self, Promote.self, Rollback.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every registered model with its status and held-out figures.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "captioner, gan or sentiment.") var kind = "captioner"
        @Flag(help: "One JSON object per model and line.") var json = false

        func run() async throws {
            let logger = makeLogger("loupe.models")
            let records = try await try database.configuration().withConnection(logger: logger) {
                try await ModelRegistry().list(kind: kind, on: $0, logger: logger)
            }
            if json {
                for r in records {
                    let object: [String: Any?] = ["id": r.id, "version": r.version, "status": r.status, "reason": r.statusReason,
                                                  "parent": r.parentID, "job": r.jobID, "path": r.path]
                    let data = try JSONSerialization.data(withJSONObject: object.compactMapValues { $0 }, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                }
                return
            }
            print(String(format: "%-4@ %-9@ %-44@ %-6@ %-7@ %-7@ %-7@ %@", "id", "status", "version", "parent", "BLEU-4", "ROUGE-L", "metal", "reason"))
            for r in records {
                let test = Self.heldOut(r.metrics)
                print(String(format: "%-4@ %-9@ %-44@ %-6@ %-7@ %-7@ %-7@ %@", "\(r.id)", r.status, r.version, r.parentID.map(String.init) ?? "-",
                             test.map { String(format: "%.3f", $0.bleu4) } ?? "-", test.map { String(format: "%.3f", $0.rougeL) } ?? "-",
                             test.map { String(format: "%.3f", $0.accuracy["metal"] ?? 0) } ?? "-", r.statusReason ?? ""))
            }
        }

        /// The held-out report in a model's metrics (`test`), when it has one.
        static func heldOut(_ metrics: String) -> EvaluationReport? {
            struct Metrics: Decodable { let test: EvaluationReport? }
            return (try? JSONDecoder().decode(Metrics.self, from: Data(metrics.utf8)))?.test
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a model active (services switch within their poll interval). Skips the guard: an admin's decision.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Model id (see `loupe models list`).") var id: Int64
        @Flag(help: "Also promote a model the guard rejected.") var force = false
        @Option(help: "Recorded with the promotion.") var reason = "promoted from the command line"

        func run() async throws {
            let logger = makeLogger("loupe.models")
            do {
                let record = try await try database.configuration().withConnection(logger: logger) {
                    try await ModelRegistry().promote(id, reason: reason, force: force, on: $0, logger: logger)
                }
                print("model \(record.id) (\(record.version)) is active")
            } catch let error as RegistryError {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Return to the model that was active before the current one.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "captioner, gan or sentiment.") var kind = "captioner"
        @Option(help: "Recorded with the rollback.") var reason = "rolled back from the command line"

        func run() async throws {
            let logger = makeLogger("loupe.models")
            do {
                let (from, to) = try await try database.configuration().withConnection(logger: logger) {
                    try await ModelRegistry().rollback(kind: kind, reason: reason, on: $0, logger: logger)
                }
                print("rolled back from model \(from.id) (\(from.version)) to model \(to.id) (\(to.version))")
            } catch let error as RegistryError {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
