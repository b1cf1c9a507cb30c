import ArgumentParser
import Captioner
import Catalog
import Foundation
import Imaging
import Logging
import Store
import Torch

/// Paths shared by the captioner commands.
enum Paths {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var objects: String { environment["LOUPE_OBJECTS"] ?? ".cache/objects" }
    /// EfficientNet-Lite0 ImageNet weights unpacked by scripts/fetch-models.sh.
    static var pretrainedEncoder: String {
        environment["LOUPE_PRETRAINED"] ?? ".cache/models/efficientnet-lite0/\(EfficientNetLite.weightsFile)"
    }
    /// The model `describe` uses when given none: written by `make run` / `make train`.
    static var defaultModel: String { environment["LOUPE_MODEL"] ?? ".cache/models/captioner/default.pt" }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train models.", subcommands: [Captioner.self, GAN.self, Sentiment.self, SentimentMLM.self])

    struct Captioner: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "captioner",
            abstract: "Train the listing captioner on the train/validation split in PostgreSQL and the object store.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var runtime: RuntimeOptions
        @Option(help: "Object store directory (default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
        @Option(help: "Run directory: checkpoints, state, plots (default: .cache/runs/captioner-<time>).") var run: String?
        @Flag(help: "Continue the run in --run from its last epoch.") var resume = false
        @Option(help: "Where to copy the trained model (default: .cache/models/captioner/<version>.pt).") var out: String?
        @Flag(inversion: .prefixedNo, help: "Record the model in the registry.") var register = true
        @Option(help: "Make it the active model: always, never, or if-none (only when no model is active).")
        var activate: Activation = .ifNone
        @Flag(help: "Also write it as the default model for `loupe describe` (.cache/models/captioner/default.pt).") var setDefault = false
        @Option(help: "Encoder: frozen (cached features), finetune or scratch.") var encoder: EncoderMode = .frozen
        @Option(help: "Pretrained EfficientNet-Lite0 weights (.pth).") var pretrained: String?
        @Option var epochs: Int?
        @Option var batchSize: Int?
        @Option(name: .customLong("lr")) var learningRate: Double?
        @Option(help: "Decoder blocks.") var layers: Int?
        @Option(help: "Decoder width.") var width: Int?
        @Option var dropout: Double?
        @Option(help: "Cached augmented views per training photo (frozen encoder).") var views: Int?
        @Option(help: "Stop after this many epochs without improvement.") var patience: Int?
        @Option(help: "Augmentation: brightness factor uniform in 1 ± x (default 0.25).") var brightness: Double?
        @Option(help: "Augmentation: contrast factor uniform in 1 ± x (default 0.25).") var contrast: Double?
        @Option(help: "Augmentation: saturation factor uniform in 1 ± x (default 0.1).") var saturation: Double?
        @Flag(inversion: .prefixedNo, help: "Give the attribute heads the photo's colour statistics too (new models; a fine-tuned model keeps its parent's choice).")
        var colourStatistics = true
        @Option(help: "Use at most this many training products (quick runs).") var limit: Int?
        @Option(help: "K-fold cross-validation over train+validation instead of one run (K ≥ 2).") var folds: Int?
        @Flag(help: "Small hyper-parameter search; writes sweep.md and sweep.json into the run directory.") var sweep = false
        @Flag(help: "Evaluate the trained model on the test split too (recorded in the registry).") var test = false
        @Option(help: "Keep only the first KEEP training products of CATEGORY (CATEGORY=KEEP, e.g. bracelet=10): a deliberately low-volume category.",
                transform: { try Thinning(parsing: $0) })
        var thin: Thinning?
        @Option(help: "Add the images of a `loupe gan sample` directory (its samples.tsv labels) to training, as labels-only examples.")
        var synthetic: String?
        @Option(help: "With --thin: show each kept product of the thinned category N times an epoch (the oversampling baseline).")
        var oversample: Int?

        enum Activation: String, ExpressibleByArgument { case always, never, ifNone = "if-none" }

        func validate() throws {
            for (name, value) in [("brightness", brightness), ("contrast", contrast), ("saturation", saturation)] {
                if let value, !(0 ..< 1).contains(value) { throw ValidationError("--\(name) takes x in [0, 1): the factor is uniform in 1 ± x") }
            }
        }

        func options() -> TrainingOptions {
            var o = TrainingOptions()
            o.encoderMode = encoder
            o.seed = runtime.seed
            if let epochs { o.epochs = epochs }
            if let batchSize { o.batchSize = batchSize }
            if let learningRate { o.learningRate = learningRate }
            if let layers { o.layers = layers }
            if let width { o.width = width }
            if let dropout { o.dropout = dropout }
            if let views { o.views = views }
            if let patience { o.patience = patience }
            if let brightness { o.augmentation.brightness = brightness }
            if let contrast { o.augmentation.contrast = contrast }
            if let saturation { o.augmentation.saturation = saturation }
            o.colourStatistics = colourStatistics
            if encoder != .frozen, learningRate == nil { o.learningRate = 3e-4 }
            return o
        }

        func run() async throws {
            try runtime.apply()
            let logger = makeLogger("loupe.train")
            let config = try database.configuration()
            let objectRoot = URL(fileURLWithPath: objects ?? Paths.objects)
            let realPhotos = DirectoryPhotoSource(store: try DirectoryObjectStore(root: objectRoot))
            var (train, validation, testSet) = try await config.withConnection(logger: logger) { connection in
                let all = try await TrainingDataRepository().examples(splits: DatasetSplit.allCases, on: connection, logger: logger)
                return (all.filter { $0.split == .train }, all.filter { $0.split == .validation }, all.filter { $0.split == .test })
            }
            if let limit { train = Array(train.prefix(limit)); validation = Array(validation.prefix(max(8, limit / 8))) }
            guard !train.isEmpty, !validation.isEmpty else {
                throw ValidationError("no training data: import a catalogue first (`loupe catalog import Fixtures/catalogue`)")
            }
            if let thin {
                let before = train.count
                train = thin.apply(train)
                print("thinned \(thin.category) to \(thin.keep) training products: \(before) → \(train.count)")
            }
            if let oversample {
                guard thin != nil, oversample >= 1 else { throw ValidationError("--oversample N takes --thin and N ≥ 1") }
                guard folds == nil else { throw ValidationError("--oversample applies to one run, not --folds") }
            }
            var photos: any PhotoSource = realPhotos
            var syntheticCount = 0
            if let synthetic {
                guard folds == nil else { throw ValidationError("--synthetic trains on generated images; --folds would validate on them") }
                let source: SyntheticPhotoSource
                do { source = try SyntheticPhotoSource(directory: URL(fileURLWithPath: synthetic), base: realPhotos) } catch let error as SyntheticImagesError {
                    throw ValidationError(error.description)
                }
                (photos, syntheticCount) = (source, source.examples.count)
                train += source.examples
                print("added \(syntheticCount) synthetic images (labels only) from \(synthetic)")
            }
            let pretrainedURL = encoder == .scratch ? nil : URL(fileURLWithPath: pretrained ?? Paths.pretrainedEncoder)
            if let pretrainedURL, !FileManager.default.fileExists(atPath: pretrainedURL.path) {
                throw ValidationError("\(pretrainedURL.path) is missing: run scripts/fetch-models.sh")
            }
            let runURL = URL(fileURLWithPath: run ?? ".cache/runs/captioner-\(runTimestamp())")
            let cache = URL(fileURLWithPath: ".cache/features")
            print("training on \(train.count) products, validating on \(validation.count); run directory \(runURL.path)")
            let bar = LineProgress()
            func trainer(_ options: TrainingOptions, _ train: [CaptionExample], _ validation: [CaptionExample], _ dir: URL) -> CaptionTrainer {
                // The generated images come last and are cached apart, so the real photos' features are shared
                // with a run without them.
                let segments = syntheticCount > 0 ? [train.count - syntheticCount, syntheticCount] : nil
                let realCount = train.count - syntheticCount  // the generated images come last
                let repeats = oversample.flatMap { n in thin.map { t in
                    train.indices.map { $0 < realCount && train[$0].attributes.category == t.category ? n : 1 }
                } }
                return CaptionTrainer(options: options, train: train, validation: validation, photos: photos, pretrainedEncoder: pretrainedURL,
                                      runDirectory: dir, cacheDirectory: cache, log: { bar.log($0) }, progress: { bar.update($0, $1, $2) },
                                      repeats: repeats, cacheSegments: segments)
            }

            if let folds {
                try crossValidate(folds: folds, pool: train + validation, runURL: runURL, trainer: trainer)
                return
            }
            if sweep {
                try runSweep(runURL: runURL, train: train, validation: validation, trainer: trainer)
                return
            }
            let result = try trainer(options(), train, validation, runURL).run(resume: resume)
            var testReport: EvaluationReport? = nil
            if test, !testSet.isEmpty {
                let drafter = try Drafter(contentsOf: result.modelFile)
                testReport = try evaluate(drafter: drafter, examples: testSet, photos: photos, options: DecodingOptions(), progress: bar)
                print(String(format: "test: BLEU-4 %.3f ROUGE-L %.3f CIDEr-D %.3f category %.3f metal %.3f gemstones %.3f violations %d false claims %d",
                             testReport!.bleu4, testReport!.rougeL, testReport!.ciderD, testReport!.accuracy["category"] ?? 0,
                             testReport!.accuracy["metal"] ?? 0, testReport!.accuracy["gemstone"] ?? 0,
                             testReport!.groundingViolations, testReport!.falseClaims))
            }
            let destination = URL(fileURLWithPath: out ?? ".cache/models/captioner/\(result.config.version).pt")
            try install(result.modelFile, at: destination)
            if setDefault { try install(result.modelFile, at: URL(fileURLWithPath: Paths.defaultModel)) }
            print("model \(result.config.version) → \(destination.path)")
            guard register else { return }
            let metrics = ModelMetrics(validation: result.validation, test: testReport, bestEpoch: result.bestEpoch,
                                       bestEpochs: result.bestEpochs, epochs: result.history.count, trainingSeconds: result.trainingSeconds,
                                       featureSeconds: result.featureSeconds, options: options())
            let real = Array(train.dropLast(syntheticCount))  // the generated images come last
            let snapshot = Snapshot(train: real.count, validation: validation.count, taxonomyVersion: result.config.taxonomyVersion,
                                    descriptions: (real + validation).reduce(0) { $0 + $1.descriptions.count },
                                    synthetic: syntheticCount > 0 ? syntheticCount : nil, thinned: thin?.description, oversample: oversample)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let configJSON = String(decoding: try Data(contentsOf: Checkpoint.configURL(for: destination)), as: UTF8.self)
            let sha = sha256Hex(try Data(contentsOf: destination))
            let id = try await config.withConnection(logger: logger) { connection in
                let registry = ModelRegistry()
                let activateNow: Bool
                switch activate {
                case .always: activateNow = true
                case .never: activateNow = false
                case .ifNone: activateNow = try await registry.active(kind: "captioner", on: connection, logger: logger) == nil
                }
                let products = real.map { (id: $0.productID, split: "train") } + validation.map { (id: $0.productID, split: "validation") }
                return (try await registry.register(kind: "captioner", version: result.config.version, path: destination.path, sha256: sha,
                                                    configJSON: configJSON, metricsJSON: String(decoding: try encoder.encode(metrics), as: UTF8.self),
                                                    snapshotJSON: String(decoding: try encoder.encode(snapshot), as: UTF8.self),
                                                    products: products, activate: activateNow, on: connection, logger: logger), activateNow)
            }
            print("registered as model \(id.0)\(id.1 ? " (active)" : " (candidate)")")
        }

        func install(_ source: URL, at destination: URL) throws {
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(Data(contentsOf: Checkpoint.configURL(for: source)), to: Checkpoint.configURL(for: destination))
            try AtomicFile.write(Data(contentsOf: source), to: destination)
        }

        func crossValidate(folds: Int, pool: [CaptionExample], runURL: URL,
                           trainer: (TrainingOptions, [CaptionExample], [CaptionExample], URL) -> CaptionTrainer) throws {
            guard folds >= 2, folds <= pool.count else { throw ValidationError("--folds must be between 2 and \(pool.count)") }
            var reports: [EvaluationReport] = []
            for k in 0 ..< folds {
                // Products are assigned to folds by position in id order: stable and disjoint.
                let validation = pool.enumerated().filter { $0.offset % folds == k }.map(\.element)
                let train = pool.enumerated().filter { $0.offset % folds != k }.map(\.element)
                print("fold \(k + 1)/\(folds): \(train.count) train, \(validation.count) validation")
                let result = try trainer(options(), train, validation, runURL.appendingPathComponent("fold-\(k + 1)")).run(resume: resume)
                reports.append(result.validation)
            }
            var lines = ["| fold | BLEU-4 | ROUGE-L | CIDEr-D | category | metal | gemstones | style | finish |", "|---|---|---|---|---|---|---|---|---|"]
            func row(_ name: String, _ values: [Double]) -> String { "| \(name) | " + values.map { String(format: "%.3f", $0) }.joined(separator: " | ") + " |" }
            func figures(_ r: EvaluationReport) -> [Double] {
                [r.bleu4, r.rougeL, r.ciderD] + ["category", "metal", "gemstone", "style", "finish"].map { r.accuracy[$0] ?? 0 }
            }
            for (k, r) in reports.enumerated() { lines.append(row("\(k + 1)", figures(r))) }
            let columns = reports.map(figures)
            let mean = (0 ..< 8).map { c in columns.map { $0[c] }.reduce(0, +) / Double(columns.count) }
            let std = (0 ..< 8).map { c in (columns.map { pow($0[c] - mean[c], 2) }.reduce(0, +) / Double(columns.count)).squareRoot() }
            lines.append(row("mean", mean))
            lines.append(row("std", std))
            let table = lines.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(table.utf8), to: runURL.appendingPathComponent("folds.md"))
            print(table)
        }

        func runSweep(runURL: URL, train: [CaptionExample], validation: [CaptionExample],
                      trainer: (TrainingOptions, [CaptionExample], [CaptionExample], URL) -> CaptionTrainer) throws {
            let base = options()
            var rows: [(String, TrainingOptions, EvaluationReport, Double)] = []
            let grid: [(Double, Int, Double)] = [(1e-3, 2, 0.1), (3e-4, 2, 0.1), (1e-3, 3, 0.1), (1e-3, 2, 0.3)]
            for (i, (lr, layers, dropout)) in grid.enumerated() {
                var o = base
                (o.learningRate, o.layers, o.dropout) = (lr, layers, dropout)
                let name = "lr \(lr), layers \(layers), dropout \(dropout)"
                print("sweep \(i + 1)/\(grid.count): \(name)")
                let result = try trainer(o, train, validation, runURL.appendingPathComponent("trial-\(i + 1)")).run(resume: resume)
                rows.append((name, o, result.validation, result.trainingSeconds))
            }
            var lines = ["| trial | learning rate | layers | dropout | BLEU-4 | ROUGE-L | category | metal | gemstones | score | seconds |",
                         "|---|---|---|---|---|---|---|---|---|---|---|"]
            for (i, (_, o, r, s)) in rows.enumerated() {
                lines.append(String(format: "| %d | %g | %d | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |", i + 1, o.learningRate, o.layers, o.dropout,
                                    r.bleu4, r.rougeL, r.accuracy["category"] ?? 0, r.accuracy["metal"] ?? 0, r.accuracy["gemstone"] ?? 0,
                                    r.selectionScore, s))
            }
            let best = rows.enumerated().max { $0.element.2.selectionScore < $1.element.2.selectionScore }!
            lines.append("\nbest: trial \(best.offset + 1) (\(best.element.0))")
            let table = lines.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(table.utf8), to: runURL.appendingPathComponent("sweep.md"))
            let json = try JSONEncoder().encode(rows.map { SweepRow(trial: $0.0, options: $0.1, validation: $0.2, seconds: $0.3) })
            try AtomicFile.write(json, to: runURL.appendingPathComponent("sweep.json"))
            print(table)
        }

    }
}

struct SweepRow: Codable { let trial: String; let options: TrainingOptions; let validation: EvaluationReport; let seconds: Double }

struct ModelMetrics: Codable {
    let validation: EvaluationReport
    let test: EvaluationReport?
    let bestEpoch: Int
    /// The epoch each part of the model comes from (text and attributes, or whole); nil in older rows.
    let bestEpochs: [String: Int]?
    let epochs: Int
    let trainingSeconds: Double
    let featureSeconds: Double
    let options: TrainingOptions
}

struct Snapshot: Codable {
    let train: Int
    let validation: Int
    let taxonomyVersion: Int
    let descriptions: Int
    /// Labels-only generated images added to training (`--synthetic`) and the thinned category (`--thin`).
    var synthetic: Int? = nil
    var thinned: String? = nil
    /// Times each kept product of the thinned category is shown an epoch (`--oversample`).
    var oversample: Int? = nil
}

extension EncoderMode: ExpressibleByArgument {}

/// Drafts for examples read from the object store, scored.
func evaluate(drafter: Drafter, examples: [CaptionExample], photos: any PhotoSource, options: DecodingOptions, progress: LineProgress) throws -> EvaluationReport {
    let report = try Evaluator.evaluate(drafter: drafter, examples: examples, photos: photos, options: options) { progress.update("evaluating", $0, $1) }
    progress.finish()
    return report
}

/// Progress on one terminal line (steps, ETA), with log lines printed above it.
final class LineProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var start = Date(), label = "", active = false, lastDraw = Date.distantPast

    func update(_ label: String, _ done: Int, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        if label.split(separator: " ").first != self.label.split(separator: " ").first || done <= 1 { start = Date() }
        self.label = label
        // At most five redraws a second, and always the last step.
        guard done == total || Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let line = String(format: "\r\u{1B}[K%@ %d/%d (%.0f%%) ETA %@", label, done, total, 100 * Double(done) / Double(max(total, 1)),
                          formatDuration(eta))
        FileHandle.standardError.write(Data(line.utf8))
        active = true
    }

    func log(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(((active ? "\r\u{1B}[K" : "") + line + "\n").utf8))
        active = false
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if active { FileHandle.standardError.write(Data("\n".utf8)) }
        active = false
    }
}

/// How beam search ranks finished drafts; `describe`, `eval captioner` and `serve` share it.
struct SearchOptions: ParsableArguments {
    @Option(help: "Length penalty α: finished drafts are ranked by log p / length^α (0 = raw log-probability, the measured best).")
    var lengthPenalty = DecodingOptions().lengthPenalty

    func validate() throws {
        guard lengthPenalty.isFinite, lengthPenalty >= 0 else { throw ValidationError("--length-penalty must be a number ≥ 0") }
    }
}

struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Draft a listing for each photo (no database needed).")

    @Argument(help: "Photos (JPEG or PNG, any size).") var photos: [String]
    @Option(help: "Model file (default: LOUPE_MODEL or .cache/models/captioner/default.pt).") var model: String?
    @Option(help: "Beam width (1 = greedy).") var beam = 3
    @OptionGroup var search: SearchOptions
    @Flag(help: "One JSON object per photo and line.") var json = false
    @Flag(help: "Decode JPEGs at full size instead of reduced to the encoder's input side (slower; drafts as accurate, not always word for word the same).")
    var fullDecode = false
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1") }
        let options = DecodingOptions(beamWidth: beam, lengthPenalty: search.lengthPenalty)
        let file = URL(fileURLWithPath: model ?? Paths.defaultModel)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ValidationError("no model at \(file.path): train one (`make run` or `loupe train captioner`) or pass --model")
        }
        let drafter = try Drafter(contentsOf: file)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = 0
        for path in photos {
            do {
                // Decoded as the service decodes uploads: reduced to the encoder's input side.
                let image = try RGBImage(contentsOf: URL(fileURLWithPath: path), reducedTo: fullDecode ? nil : drafter.model.config.imageSize)
                let draft = try drafter.describe(image, options: options)
                if json {
                    print(String(decoding: try encoder.encode(draft), as: UTF8.self))
                } else {
                    print(Self.text(draft, photo: path))
                }
            } catch {
                failed += 1
                printError("\(path): \(error)")
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    static func text(_ d: Draft, photo: String) -> String {
        func pct(_ c: Double) -> String { String(format: "%.0f%%", c * 100) }
        let gems = d.attributes.gemstones.map { "\($0.value) \(pct($0.confidence))" }.joined(separator: ", ")
        return """
            \(photo)
              title:       \(d.title)
              description: \(d.description)
              category:    \(d.category.value) (\(pct(d.category.confidence)))
              metal:       \(d.attributes.metal.value) (\(pct(d.attributes.metal.confidence)))
              gemstones:   \(gems)
              style:       \(d.attributes.style.value) (\(pct(d.attributes.style.confidence)))
              finish:      \(d.attributes.finish.value) (\(pct(d.attributes.finish.confidence)))
              needs review: \(d.needsReview.isEmpty ? "nothing" : d.needsReview.joined(separator: ", "))
              model:       \(d.model)
            """
    }
}

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate models.", subcommands: [Captioner.self, GAN.self, Sentiment.self])

    struct Captioner: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "captioner", abstract: "BLEU-1…4, ROUGE-L, CIDEr-D, attribute accuracy and macro-F1, ECE, grounding violations on a split.")

        @Option(help: "Model file (default: LOUPE_MODEL or .cache/models/captioner/default.pt).") var model: String?
        @Option(help: "train, validation or test.") var split: DatasetSplit = .test
        @Option(help: "Beam width.") var beam = 3
        @OptionGroup var search: SearchOptions
        @Flag(help: "Print the report as JSON.") var json = false
        @Option(help: "Object store directory (default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
        @Option(help: "Evaluate only the first N products of the split (quick checks).") var limit: Int?
        @Option(help: "Evaluate only the products of this category (e.g. a thinned one).") var category: String?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            let logger = makeLogger("loupe.eval")
            let file = URL(fileURLWithPath: model ?? Paths.defaultModel)
            guard FileManager.default.fileExists(atPath: file.path) else { throw ValidationError("no model at \(file.path)") }
            let drafter = try Drafter(contentsOf: file)
            if let category, !Taxonomy.standard.category.contains(category) {
                throw ValidationError("unknown category '\(category)' (one of \(Taxonomy.standard.category.slugs.joined(separator: ", ")))")
            }
            let examples = try await database.configuration().withConnection(logger: logger) {
                try await TrainingDataRepository().examples(splits: [split], on: $0, logger: logger)
            }
            let inCategory = category.map { c in examples.filter { $0.attributes.category == c } } ?? examples
            let chosen = limit.map { Array(inCategory.prefix($0)) } ?? inCategory
            guard !chosen.isEmpty else { throw ValidationError("the \(split.rawValue) split is empty") }
            let photos = DirectoryPhotoSource(store: try DirectoryObjectStore(root: URL(fileURLWithPath: objects ?? Paths.objects)))
            let report = try evaluate(drafter: drafter, examples: chosen, photos: photos,
                                      options: DecodingOptions(beamWidth: beam, lengthPenalty: search.lengthPenalty), progress: LineProgress())
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(EvalOutput(model: drafter.model.config.version, split: split.rawValue, report: report)), as: UTF8.self))
            } else {
                print("model \(drafter.model.config.version) on \(report.examples) \(split.rawValue) products (beam \(beam), length penalty \(search.lengthPenalty))")
                print("BLEU-1..4 " + report.bleu.map { String(format: "%.3f", $0) }.joined(separator: " ")
                      + String(format: "  ROUGE-L %.3f  CIDEr-D %.3f  title %.3f  length/reference %.3f", report.rougeL, report.ciderD,
                               report.titleAccuracy, report.lengthRatio ?? .nan))
                for field in report.accuracy.keys.sorted() {
                    print(String(format: "%-9@ accuracy %.3f  F1 %.3f%@", field, report.accuracy[field]!, report.macroF1[field] ?? 0,
                                 report.ece[field].map { String(format: "  ECE %.3f", $0) } ?? ""))
                }
                print(String(format: "metal colour accuracy %.3f, gemstones with diamond = cubic zirconia %.3f",
                             report.colourAccuracy["metal"] ?? 0, report.colourAccuracy["gemstone"] ?? 0))
                print("grounding violations \(report.groundingViolations), false claims \(report.falseClaims) \(report.falseClaimsByField), needs review \(report.needsReview)")
                print(String(format: "%.1f ms per photo", report.secondsPerPhoto * 1000))
            }
        }
    }
}

struct EvalOutput: Codable { let model: String; let split: String; let report: EvaluationReport }

extension DatasetSplit: ExpressibleByArgument {}
