import Captioner
import Catalog
import Foundation
import Logging
import PostgresNIO
import Store
import Torch

/// What a retraining request may set (the job's payload); unset fields take the worker's defaults.
public struct RetrainRequest: Codable, Sendable, Equatable {
    public var reason: String?
    public var epochs: Int?
    public var learningRate: Double?
    public var views: Int?
    /// How many times each approved listing is repeated in the training set: moderator-verified
    /// corrections are scarce and must outweigh the catalogue's systematic errors.
    public var listingWeight: Int?
    public var tolerance: Double?
    /// Quick runs and tests: at most this many catalogue training products / held-out products.
    public var catalogueLimit: Int?
    public var evaluationLimit: Int?
    public var beam: Int?
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case reason, epochs, views, tolerance, beam, seed
        case learningRate = "learning_rate", listingWeight = "listing_weight", catalogueLimit = "catalogue_limit"
        case evaluationLimit = "evaluation_limit"
    }

    public init() {}

    /// Fills unset fields from `defaults`.
    public func merged(over defaults: RetrainRequest) -> RetrainRequest {
        var r = self
        r.reason = reason ?? defaults.reason
        r.epochs = epochs ?? defaults.epochs
        r.learningRate = learningRate ?? defaults.learningRate
        r.views = views ?? defaults.views
        r.listingWeight = listingWeight ?? defaults.listingWeight
        r.tolerance = tolerance ?? defaults.tolerance
        r.catalogueLimit = catalogueLimit ?? defaults.catalogueLimit
        r.evaluationLimit = evaluationLimit ?? defaults.evaluationLimit
        r.beam = beam ?? defaults.beam
        r.seed = seed ?? defaults.seed
        return r
    }

    public static let standard: RetrainRequest = {
        var r = RetrainRequest()
        (r.reason, r.epochs, r.learningRate, r.views, r.listingWeight, r.tolerance, r.beam, r.seed) =
            ("requested", 8, 3e-4, 4, 3, 0.02, 3, 0)
        return r
    }()

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw RetrainError.invalidRequest(message) } }
        try check((epochs ?? 1) >= 1 && (epochs ?? 1) <= 200, "epochs must be 1–200")
        try check((learningRate ?? 1e-3) > 0 && (learningRate ?? 1e-3) < 1, "learningRate must be in (0, 1)")
        try check((views ?? 1) >= 1 && (views ?? 1) <= 16, "views must be 1–16")
        try check((listingWeight ?? 1) >= 1 && (listingWeight ?? 1) <= 20, "listingWeight must be 1–20")
        try check((tolerance ?? 0) >= 0 && (tolerance ?? 0) <= 1, "tolerance must be 0–1")
        try check((catalogueLimit ?? 1) >= 1, "catalogueLimit must be at least 1")
        try check((evaluationLimit ?? 1) >= 1, "evaluationLimit must be at least 1")
        try check((beam ?? 1) >= 1 && (beam ?? 1) <= 8, "beam must be 1–8")
    }
}

public enum RetrainError: Error, CustomStringConvertible {
    case invalidRequest(String)
    case noActiveModel
    case noData(String)

    public var description: String {
        switch self {
        case .invalidRequest(let m): "invalid retraining request: \(m)"
        case .noActiveModel: "no active captioner to fine-tune: train one first (`loupe train captioner`)"
        case .noData(let m): m
        }
    }
}

/// Which approved listings a retraining learns from, and why the others are left out. A listing is a
/// training example with its published text as the reference and its published labels — unless the
/// artisan's feedback disputes one of its labels, or its text names a metal, stone or category that
/// its own labels contradict (a moderator corrected the label but not the text). The generated text a
/// moderator replaced is kept in the snapshot for analysis and never used as a reference.
public enum ListingSelection {
    public static func select(_ listings: [ListingExample], grounding: Grounding) -> (examples: [CaptionExample], uses: [ModelRegistry.ListingUse]) {
        var examples: [CaptionExample] = [], uses: [ModelRegistry.ListingUse] = []
        for listing in listings {
            var reason: String? = nil
            if !listing.disputedFields.isEmpty {
                reason = "the artisan's feedback disputes " + listing.disputedFields.joined(separator: ", ")
            } else {
                let claims = grounding.falseClaims(in: listing.title + ". " + listing.description, truth: listing.attributes)
                if !claims.isEmpty {
                    reason = "the published text names " + claims.map { "\($0.field) \($0.value)" }.joined(separator: ", ")
                        + " against its labels"
                }
            }
            uses.append(.init(listingID: listing.listingID, used: reason == nil, reason: reason, reference: listing.description,
                              replacedText: listing.descriptionEdited ? listing.generatedDescription : nil, correctedFields: listing.editedFields))
            guard reason == nil else { continue }
            examples.append(CaptionExample(productID: listing.productID, externalID: "listing-\(listing.listingID)",
                                           split: listing.split == .validation ? .validation : .train, attributes: listing.attributes,
                                           title: listing.title, descriptions: [listing.description], images: listing.images))
        }
        return (examples, uses)
    }
}

/// The figures a retrained candidate is recorded with.
public struct RetrainMetrics: Codable, Sendable {
    public let validation: EvaluationReport
    /// The candidate on the fixed held-out split.
    public let test: EvaluationReport
    /// The active model it was judged against, on the same examples.
    public let activeTest: EvaluationReport
    public let activeID: Int64
    public let verdict: PromotionGuard.Verdict
    public let guardSettings: PromotionGuard
    public let bestEpoch: Int
    public let epochs: Int
    public let trainingSeconds: Double
    public let request: RetrainRequest
}

public struct RetrainSnapshot: Codable, Sendable {
    public let parentID: Int64
    public let parentVersion: String
    public let catalogueTrain: Int
    public let catalogueValidation: Int
    public let listingsUsed: Int
    public let listingsExcluded: Int
    public let listingWeight: Int
    public let heldOut: Int
    public let taxonomyVersion: Int
}

/// The job's answer, stored as its result.
public struct RetrainResult: Codable, Sendable, Equatable {
    public let modelID: Int64
    public let version: String
    public let status: String
    public let reasons: [String]
    public let parentID: Int64

    enum CodingKeys: String, CodingKey { case modelID = "model_id", version, status, reasons, parentID = "parent_id" }
}

/// Where the retraining reads and writes, and its defaults.
public struct RetrainSettings: Sendable {
    public var objects: URL
    public var modelsDirectory: URL
    public var runsDirectory: URL
    public var cacheDirectory: URL?
    public var defaults: RetrainRequest
    public init(objects: URL, modelsDirectory: URL, runsDirectory: URL, cacheDirectory: URL?, defaults: RetrainRequest = .standard) {
        (self.objects, self.modelsDirectory, self.runsDirectory, self.cacheDirectory, self.defaults) =
            (objects, modelsDirectory, runsDirectory, cacheDirectory, defaults)
    }
}

/// One retraining: snapshot (catalogue + approved listings) → fine-tune the active model → evaluate it
/// and the active model on the fixed held-out split → record the candidate → promote or reject it by
/// the guard. Crash-safe: the run directory is per job and resumable, model files are written to a
/// temporary name and renamed, the candidate row is inserted only while this worker holds the job, and
/// every status change is one transaction. A retried job whose candidate is already recorded only
/// repeats the verdict.
public struct RetrainJob: JobHandler {
    public let settings: RetrainSettings

    public init(settings: RetrainSettings) { self.settings = settings }

    public func run(_ job: Job, context: JobContext) async throws -> String {
        let logger = context.logger
        let request = try JSONDecoder().decode(RetrainRequest.self, from: Data(job.payload.utf8)).merged(over: settings.defaults)
        try request.validate()
        let client = context.client
        let registry = ModelRegistry()
        let grounding = Grounding()

        // Retried after the candidate was recorded: only the verdict is left.
        let existing = try await client.leasing { c in
            try await registry.list(kind: "captioner", on: c, logger: logger).first { $0.jobID == job.id }
        }
        if let existing { return try await conclude(existing, job: job, context: context) }

        context.report("reading the training snapshot")
        let (active, catalogue, listings) = try await client.leasing { c in
            guard let active = try await registry.active(kind: "captioner", on: c, logger: logger) else { throw RetrainError.noActiveModel }
            let repository = TrainingDataRepository()
            return (active, try await repository.examples(splits: DatasetSplit.allCases, on: c, logger: logger),
                    try await repository.listings(on: c, logger: logger))
        }
        var train = catalogue.filter { $0.split == .train }
        var validation = catalogue.filter { $0.split == .validation }
        var heldOut = catalogue.filter { $0.split == .test }
        if let limit = request.catalogueLimit { train = Array(train.prefix(limit)); validation = Array(validation.prefix(max(8, limit / 8))) }
        if let limit = request.evaluationLimit { heldOut = Array(heldOut.prefix(limit)) }
        guard !heldOut.isEmpty else { throw RetrainError.noData("the held-out (test) split is empty") }
        let (listingExamples, uses) = ListingSelection.select(listings, grounding: grounding)
        let weight = request.listingWeight ?? 1
        // The catalogue first (its features are cached from earlier runs), then the listings, each seen
        // `weight` times per epoch.
        let catalogueCount = train.count
        train += listingExamples.filter { $0.split == .train }
        let repeats = Array(repeating: 1, count: catalogueCount) + Array(repeating: weight, count: train.count - catalogueCount)
        validation += listingExamples.filter { $0.split == .validation }
        guard !train.isEmpty, !validation.isEmpty else { throw RetrainError.noData("no training or validation examples") }
        logger.info("retraining", metadata: ["job": "\(job.id)", "parent": "\(active.id)", "catalogue": "\(catalogue.count)",
                                             "listings_used": "\(listingExamples.count)", "listings_excluded": "\(uses.count - listingExamples.count)"])

        // Fine-tune from the active model in this job's own, resumable run directory.
        let parent = URL(fileURLWithPath: active.path)
        let parentConfig = try Checkpoint.loadConfig(CaptionerConfig.self, for: parent)
        var options = TrainingOptions()
        options.epochs = request.epochs ?? 8
        options.learningRate = request.learningRate ?? 3e-4
        options.views = request.views ?? 4
        options.seed = request.seed ?? 0
        options.patience = options.epochs
        options.keepLast = true
        options.versionTag = "job\(job.id)"
        // Warm-up over at most a fifth of the (short) fine-tuning.
        options.warmupSteps = max(1, min(20, options.epochs * ((repeats.reduce(0, +) + options.batchSize - 1) / options.batchSize) / 5))
        (options.encoderMode, options.width, options.layers, options.dropout, options.imageSize) =
            (parentConfig.encoderMode, parentConfig.width, parentConfig.layers, parentConfig.dropout, parentConfig.imageSize)
        let runDirectory = settings.runsDirectory.appendingPathComponent("retrain-job-\(job.id)")
        let photos = DirectoryPhotoSource(store: try DirectoryObjectStore(root: settings.objects))
        let (trainSet, validationSet, heldOutSet, cache, trainingOptions) = (train, validation, heldOut, settings.cacheDirectory, options)
        let result = try await context.blocking {
            try CaptionTrainer(options: trainingOptions, train: trainSet, validation: validationSet, photos: photos, pretrainedEncoder: nil,
                               parent: parent, runDirectory: runDirectory, cacheDirectory: cache,
                               log: { line in logger.info("\(line)") }, progress: { label, done, total in context.report("\(label) \(done)/\(total)") },
                               checkStop: { try context.checkStop() }, repeats: repeats,
                               cacheSegments: [catalogueCount, trainSet.count - catalogueCount]).run(resume: true)
        }

        // The candidate and the active model on the same held-out examples.
        let beam = request.beam ?? 3
        let (candidateReport, activeReport) = try await context.blocking {
            let candidate = try Drafter(contentsOf: result.modelFile)
            let current = try Drafter(contentsOf: parent)
            func evaluate(_ drafter: Drafter, _ label: String) throws -> EvaluationReport {
                try Evaluator.evaluate(drafter: drafter, examples: heldOutSet, photos: photos, options: DecodingOptions(beamWidth: beam)) { context.report("\(label) \($0)/\($1)") }
            }
            let c = try evaluate(candidate, "evaluating candidate")
            try context.checkStop()
            return (c, try evaluate(current, "evaluating active model"))
        }
        let guardSettings = PromotionGuard(tolerance: request.tolerance ?? 0.02)
        let verdict = guardSettings.judge(candidate: candidateReport, active: activeReport)

        // The model file under its version's name (temporary file + rename), then the candidate row.
        let destination = settings.modelsDirectory.appendingPathComponent("\(result.config.version).pt")
        try FileManager.default.createDirectory(at: settings.modelsDirectory, withIntermediateDirectories: true)
        try AtomicFile.write(Data(contentsOf: Checkpoint.configURL(for: result.modelFile)), to: Checkpoint.configURL(for: destination))
        try AtomicFile.write(Data(contentsOf: result.modelFile), to: destination)
        let metrics = RetrainMetrics(validation: result.validation, test: candidateReport, activeTest: activeReport, activeID: active.id,
                                     verdict: verdict, guardSettings: guardSettings, bestEpoch: result.bestEpoch, epochs: result.history.count,
                                     trainingSeconds: result.trainingSeconds, request: request)
        let snapshot = RetrainSnapshot(parentID: active.id, parentVersion: active.version, catalogueTrain: catalogueCount,
                                       catalogueValidation: validation.count - listingExamples.filter { $0.split == .validation }.count,
                                       listingsUsed: listingExamples.count, listingsExcluded: uses.count - listingExamples.count,
                                       listingWeight: weight, heldOut: heldOut.count, taxonomyVersion: result.config.taxonomyVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let sha = sha256Hex(try Data(contentsOf: destination))
        let configJSON = String(decoding: try Data(contentsOf: Checkpoint.configURL(for: destination)), as: UTF8.self)
        var products: [Int64: String] = [:]
        for e in train + validation where !e.externalID.hasPrefix("listing-") { products[e.productID] = e.split.rawValue }
        for e in listingExamples { products[e.productID] = e.split.rawValue }
        let productSplits = products.sorted { $0.key < $1.key }.map { (id: $0.key, split: $0.value) }
        let id = try await client.leasing { c in
            try await registry.register(kind: "captioner", version: result.config.version, path: destination.path, sha256: sha,
                                        configJSON: configJSON, metricsJSON: String(decoding: try encoder.encode(metrics), as: UTF8.self),
                                        snapshotJSON: String(decoding: try encoder.encode(snapshot), as: UTF8.self),
                                        products: productSplits,
                                        listings: uses, activate: false, parent: active.id, jobID: job.id, worker: job.worker,
                                        on: c, logger: logger)
        }
        let record = try await client.leasing { try await registry.find(id, on: $0, logger: logger) }
        return try await conclude(record, job: job, context: context)
    }

    /// Applies the recorded verdict: promote (only if the model it was judged against is still active)
    /// or reject with the reasons.
    func conclude(_ record: ModelRegistry.Record, job: Job, context: JobContext) async throws -> String {
        let logger = context.logger
        let registry = ModelRegistry()
        let metrics = try JSONDecoder().decode(RetrainMetrics.self, from: Data(record.metrics.utf8))
        var status = record.status, reasons = metrics.verdict.reasons
        if record.status == ModelStatus.candidate.rawValue {
            (status, reasons) = try await context.client.leasing { c in
                guard metrics.verdict.promote else {
                    try await registry.reject(record.id, reason: metrics.verdict.summary, on: c, logger: logger)
                    return (ModelStatus.rejected.rawValue, metrics.verdict.reasons)
                }
                do {
                    try await registry.promote(record.id, reason: "retraining job \(job.id): " + metrics.verdict.summary,
                                               expectedActive: .some(metrics.activeID), on: c, logger: logger)
                    return (ModelStatus.active.rawValue, metrics.verdict.reasons)
                } catch let error as RegistryError {
                    try await registry.reject(record.id, reason: error.description, on: c, logger: logger)
                    return (ModelStatus.rejected.rawValue, [error.description])
                }
            }
        }
        logger.info("retraining finished", metadata: ["job": "\(job.id)", "model": "\(record.id)", "status": "\(status)",
                                                      "reasons": "\(reasons.joined(separator: "; "))"])
        let result = RetrainResult(modelID: record.id, version: record.version, status: status, reasons: reasons, parentID: metrics.activeID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(result), as: UTF8.self)
    }
}
