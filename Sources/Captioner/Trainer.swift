import Catalog
import Foundation
import Imaging
import Torch

/// Hyper-parameters of one training run (saved with the run, so a resumed run uses the same).
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var epochs = 40
    public var batchSize = 32
    public var learningRate = 1e-3
    public var weightDecay = 0.01
    /// Linear warm-up steps, then cosine decay to `learningRate · 0.05`.
    public var warmupSteps = 100
    public var labelSmoothing = 0.1
    public var attributeWeight = 1.0
    public var clipNorm = 1.0
    /// Stop after this many epochs without a better validation score.
    public var patience = 6
    /// Cached augmented views per training photo (frozen encoder).
    public var views = 6
    public var seed: UInt64 = 0
    /// Validation decoding: greedy (1) keeps epochs fast; final evaluation uses the model's beam.
    public var validationBeam = 1
    public var encoderMode = EncoderMode.frozen
    public var width = 256
    public var layers = 2
    public var dropout = 0.1
    public var imageSize = 224
    public var augmentation: Augmenter.Config = TrainingOptions.jewelleryAugmentation
    /// Keep the last epoch instead of the best on validation: retraining on corrections of a systematic
    /// error must not be steered back by a validation split that shares the error.
    public var keepLast = false
    /// Ends the model's version instead of the encoder mode (retraining: "job12").
    public var versionTag: String? = nil
    /// A new model's attribute heads but category's also read the photo's colour statistics
    /// (`CaptionerConfig.colourFields`); a fine-tuned model keeps its parent's choice.
    public var colourStatistics = true

    public init() {}

    /// Crops, flips, small rotations and light changes — but no hue shift: hue is how rose gold differs
    /// from yellow gold.
    public static var jewelleryAugmentation: Augmenter.Config {
        var c = Augmenter.Config()
        c.cropScale = 0.65 ... 1.0
        c.cropRatio = 0.85 ... 1.18
        c.maxRotation = 15
        c.brightness = 0.25
        c.contrast = 0.25
        c.saturation = 0.1
        c.hue = 0
        return c
    }
}

/// One epoch's figures.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var captionLoss: Double
    public var attributeLoss: Double
    public var validationLoss: Double
    public var validation: EvaluationReport
    public var learningRate: Double
    public var seconds: Double
}

/// The trainer's resumable state, written after every epoch.
struct TrainerState: Codable {
    var options: TrainingOptions
    var config: CaptionerConfig
    var epoch: Int
    var step: Int
    var selection: CheckpointSelection
    var history: [EpochRecord]
    var rngState: UInt64
}

public struct TrainingResult: Sendable {
    public let modelFile: URL
    public let config: CaptionerConfig
    public let history: [EpochRecord]
    /// The latest epoch any part of the kept checkpoint comes from.
    public let bestEpoch: Int
    /// The epoch each part of the kept checkpoint comes from (`CheckpointPart`: text and attributes with
    /// a frozen encoder, whole otherwise).
    public let bestEpochs: [String: Int]
    /// Validation report of the best checkpoint after calibration, decoded with the final beam.
    public let validation: EvaluationReport
    public let trainingSeconds: Double
    public let featureSeconds: Double
}

/// Trains a `CaptionModel`: AdamW, warm-up + cosine, label smoothing, gradient clipping, validation every
/// epoch, best checkpoint kept (the decoder's and the heads' chosen separately, `CheckpointSelection`), early stopping, resumable from its run directory, temperature calibration
/// of the attribute heads at the end.
public final class CaptionTrainer {
    public let options: TrainingOptions
    let train: [CaptionExample], validation: [CaptionExample]
    let photos: any PhotoSource
    let pretrained: URL?
    public let runDirectory: URL
    let cacheDirectory: URL?
    let log: (String) -> Void
    let progress: (String, Int, Int) -> Void
    let grounding: Grounding
    let taxonomy: Taxonomy
    let parent: URL?
    let checkStop: () throws -> Void
    /// How often each training example is seen per epoch (nil: once each).
    let repeats: [Int]?
    /// Lengths of consecutive runs of `train` whose features are cached separately (nil: one run), so a
    /// retraining reuses the catalogue's cached features and encodes only the new listings.
    let cacheSegments: [Int]?

    /// With `parent` (a model file) the run fine-tunes that model: its configuration, vocabulary and
    /// weights are the starting point and the options' architecture fields are ignored. `checkStop` is
    /// called before every step; what it throws ends the run (the last finished epoch stays resumable).
    public init(options: TrainingOptions, train: [CaptionExample], validation: [CaptionExample], photos: any PhotoSource,
                pretrainedEncoder: URL?, parent: URL? = nil, runDirectory: URL, cacheDirectory: URL?, taxonomy: Taxonomy = .standard,
                log: @escaping (String) -> Void, progress: @escaping (String, Int, Int) -> Void, checkStop: @escaping () throws -> Void = {},
                repeats: [Int]? = nil, cacheSegments: [Int]? = nil) {
        precondition(!train.isEmpty && !validation.isEmpty, "training needs training and validation examples")
        precondition(repeats.map { $0.count == train.count && $0.allSatisfy { $0 >= 1 } } ?? true, "one repeat count ≥ 1 per training example")
        precondition(cacheSegments.map { $0.reduce(0, +) == train.count && $0.allSatisfy { $0 >= 0 } } ?? true, "segments cover the training set")
        (self.repeats, self.cacheSegments) = (repeats, cacheSegments)
        precondition(options.encoderMode == .scratch || pretrainedEncoder != nil || parent != nil, "\(options.encoderMode) needs the pretrained encoder")
        (self.options, self.train, self.validation, self.photos) = (options, train, validation, photos)
        (pretrained, self.runDirectory, self.cacheDirectory) = (pretrainedEncoder, runDirectory, cacheDirectory)
        (self.log, self.progress, self.taxonomy, self.parent, self.checkStop) = (log, progress, taxonomy, parent, checkStop)
        grounding = Grounding(taxonomy: taxonomy)
    }

    var stateURL: URL { runDirectory.appendingPathComponent("state.json") }
    var lastWeights: URL { runDirectory.appendingPathComponent("last.pt") }
    var bestWeights: URL { runDirectory.appendingPathComponent("best.pt") }
    var optimizerURL: URL { runDirectory.appendingPathComponent("optimizer.pt") }
    public var modelURL: URL { runDirectory.appendingPathComponent("model.pt") }

    func makeConfig() throws -> CaptionerConfig {
        if let parent {
            var config = try Checkpoint.loadConfig(CaptionerConfig.self, for: parent)
            config.temperatures = [:]
            return config
        }
        let vocabulary = Vocabulary.build(from: CaptionDataset.vocabularyTexts(train, grounding: grounding))
        var config = CaptionerConfig(vocabulary: vocabulary, taxonomy: taxonomy)
        config.encoderMode = options.encoderMode
        config.width = options.width
        config.layers = options.layers
        config.dropout = options.dropout
        config.imageSize = options.imageSize
        if options.colourStatistics { config.colourFields = CaptionerConfig.defaultColourFields(config.fields) }
        return config
    }

    public func run(resume: Bool) throws -> TrainingResult {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        LibTorch.manualSeed(options.seed)
        var state: TrainerState
        if let saved = try TrainingRun.savedState(TrainerState.self, at: stateURL, resume: resume, isSameRun: { $0.options == options }) {
            state = saved
            log("resuming after epoch \(state.epoch) (best: \(state.selection.summary))")
        } else {
            let config = try makeConfig()
            state = TrainerState(options: options, config: config, epoch: 0, step: 0,
                                 selection: CheckpointSelection(parts: CheckpointPart.parts(frozenEncoder: config.encoderMode == .frozen)),
                                 history: [], rngState: options.seed &+ 0x9E37)
        }
        let model = try CaptionModel(config: state.config)
        if state.epoch > 0 {
            try model.store.load(Checkpoint.load(from: lastWeights))
        } else if let parent {
            try model.store.load(Checkpoint.load(from: parent))
            log("fine-tuning \(parent.lastPathComponent)")
        } else if let pretrained, options.encoderMode != .scratch {
            try model.loadPretrainedEncoder(from: pretrained)
        }
        let frozen = state.config.encoderMode == .frozen
        try model.store.setTrainable(!frozen, prefix: "encoder.")
        let parameters = model.store.trainableParameters
        let optimizer = try Optimizer(.adamW(weightDecay: options.weightDecay), parameters: parameters, learningRate: options.learningRate)
        if state.epoch > 0, FileManager.default.fileExists(atPath: optimizerURL.path) { try optimizer.load(from: optimizerURL) }
        log("model: \(model.store.parameterCount) parameters, \(parameters.reduce(0) { $0 + $1.count }) trainable; vocabulary \(state.config.vocabulary.count); encoder \(state.config.encoderMode.rawValue)")

        let trainSet = CaptionDataset(examples: train, config: state.config, grounding: grounding)
        let validationSet = CaptionDataset(examples: validation, config: state.config, grounding: grounding)
        let augmenter = Augmenter(config: { var c = options.augmentation; c.outputSize = state.config.imageSize; return c }())
        let featureStart = Date()
        var trainFeatures: FeatureCache? = nil
        if frozen {
            var parts: [FeatureCache] = [], start = 0
            for length in (cacheSegments ?? [train.count]) where length > 0 {
                parts.append(try FeatureCache.build(examples: Array(train[start ..< start + length]), photos: photos, model: model, views: options.views,
                                                    augmenter: augmenter, seed: options.seed, cacheDirectory: cacheDirectory, label: "encoding train",
                                                    progress: progress))
                start += length
            }
            trainFeatures = parts.count == 1 ? parts[0] : FeatureCache(grid: try Tensor.cat(parts.map(\.grid)), pooled: try Tensor.cat(parts.map(\.pooled)),
                                                                        views: options.views)
        }
        if state.config.usesColourStatistics, state.epoch == 0, parent == nil {
            // A new model's standardisation of the colour statistics: over every cached training view,
            // or the plain training photos when the encoder trains (the features are not cached).
            let statistics = if let trainFeatures {
                try trainFeatures.pooled.slice(dim: 1, model.encoder.pooledWidth ..< model.headInputWidth)
            } else {
                try plainColourStatistics(size: state.config.imageSize)
            }
            try model.standardiseColourStatistics(from: statistics)
        }
        var validationFeatures = try validationCache(model: model)
        let featureSeconds = Date().timeIntervalSince(featureStart)
        if frozen { log(String(format: "features: %d train views, %d validation photos in %.1f s", train.count * options.views, validation.count, featureSeconds)) }

        let epochOrder = repeats.map { r in train.indices.flatMap { Array(repeating: $0, count: r[$0]) } } ?? Array(train.indices)
        let stepsPerEpoch = (epochOrder.count + options.batchSize - 1) / options.batchSize
        let schedule = WarmupCosine(peak: options.learningRate, warmupSteps: options.warmupSteps,
                                    totalSteps: max(stepsPerEpoch * options.epochs, options.warmupSteps + 1), floor: options.learningRate * 0.05)
        var rng = SplitMix64(seed: state.rngState)
        let trainingStart = Date()
        while state.epoch < options.epochs {
            let epochStart = Date()
            model.store.train()
            var order = epochOrder
            order.shuffle(using: &rng)
            var sums = (total: 0.0, caption: 0.0, attribute: 0.0)
            for s in 0 ..< stepsPerEpoch {
                try checkStop()
                let indices = Array(order[s * options.batchSize ..< min((s + 1) * options.batchSize, order.count)])
                let picks = indices.map { (example: $0, reference: Int.random(in: 0 ..< trainSet.sequences[$0].count, using: &rng)) }
                let features: ImageFeatures
                if let trainFeatures {
                    features = try trainFeatures.batch(indices.map { (example: $0, view: Int.random(in: 0 ..< options.views, using: &rng)) })
                } else {
                    features = try model.encode(augmentedBatch(indices, augmenter: augmenter, rng: &rng))
                }
                try optimizer.setLearningRate(schedule.rate(at: state.step))
                try optimizer.zeroGrad()
                let out = try model.forward(features: features, targets: .init(tokens: trainSet.tokens(picks), attributes: trainSet.attributeTargets(indices)),
                                            labelSmoothing: options.labelSmoothing, attributeWeight: options.attributeWeight)
                try out.loss.backward()
                try optimizer.clipGradNorm(maxNorm: options.clipNorm)
                try optimizer.step()
                state.step += 1
                sums.total += try out.loss.item(); sums.caption += try out.captionLoss.item(); sums.attribute += try out.attributeLoss.item()
                progress(String(format: "epoch %d/%d loss %.3f", state.epoch + 1, options.epochs, sums.total / Double(s + 1)), s + 1, stepsPerEpoch)
            }
            // Validation: loss on the first reference, drafts decoded greedily.
            model.store.eval()
            if !frozen { validationFeatures = try validationCache(model: model) }
            let validationLoss = try loss(model: model, dataset: validationSet, features: validationFeatures)
            let drafter = Drafter(model: model, taxonomy: taxonomy)
            let (report, _) = try Evaluator.evaluate(drafter: drafter, features: { try validationFeatures.view($0, 0) }, examples: validation,
                                                     options: DecodingOptions(beamWidth: options.validationBeam))
            let n = Double(stepsPerEpoch)
            let record = EpochRecord(epoch: state.epoch + 1, trainLoss: sums.total / n, captionLoss: sums.caption / n, attributeLoss: sums.attribute / n,
                                     validationLoss: validationLoss, validation: report, learningRate: optimizer.learningRate,
                                     seconds: Date().timeIntervalSince(epochStart))
            state.history.append(record)
            state.epoch += 1
            let improved = state.selection.record(report, epoch: state.epoch, keepLast: options.keepLast)
            if let kept = try state.selection.checkpoint(improved: improved, current: model.store.namedTensors,
                                                         kept: { try Checkpoint.load(from: bestWeights) }) {
                try Checkpoint.save(kept, to: bestWeights)
            }
            let remaining = Double(options.epochs - state.epoch) * Date().timeIntervalSince(trainingStart) / Double(max(state.history.count, 1))
            log(String(format: "epoch %d/%d  loss %.3f (caption %.3f, attributes %.3f)  val loss %.3f  BLEU-4 %.3f  ROUGE-L %.3f  category %.3f  metal %.3f (colour %.3f)  gemstones %.3f  %.0fs%@  ETA %@",
                       state.epoch, options.epochs, record.trainLoss, record.captionLoss, record.attributeLoss, validationLoss, report.bleu4, report.rougeL,
                       report.accuracy["category"] ?? 0, report.accuracy["metal"] ?? 0, report.colourAccuracy["metal"] ?? 0,
                       report.accuracy["gemstone"] ?? 0, record.seconds,
                       improved.map { " *" + $0.rawValue }.joined(), formatDuration(remaining)))
            state.rngState = rng.next()
            rng = SplitMix64(seed: state.rngState)
            try Checkpoint.save(model.store.namedTensors, to: lastWeights)
            try optimizer.save(to: optimizerURL)
            try AtomicFile.write(JSONEncoder().encode(state), to: stateURL)
            try writePlots(state.history)
            if state.epoch - state.selection.lastImprovement >= options.patience {
                log("early stop: no better validation score for \(options.patience) epochs")
                break
            }
        }
        let trainingSeconds = Date().timeIntervalSince(trainingStart)

        // The best checkpoint, calibrated on validation, saved as the model file.
        try model.store.load(Checkpoint.load(from: bestWeights))
        model.store.eval()
        if !frozen { validationFeatures = try validationCache(model: model) }
        var config = state.config
        config.temperatures = try Calibration.fitTemperatures(model: model, features: validationFeatures, dataset: validationSet)
        config.version = "captioner-" + runTimestamp() + "-" + (options.versionTag ?? config.encoderMode.rawValue)
        let calibrated = try CaptionModel(config: config)
        try calibrated.store.load(model.store.namedTensors)
        try Checkpoint.save(calibrated.store, config: config, to: modelURL)
        let drafter = Drafter(model: calibrated, taxonomy: taxonomy)
        let (report, _) = try Evaluator.evaluate(drafter: drafter, features: { try validationFeatures.view($0, 0) }, examples: validation,
                                                 options: DecodingOptions())
        log(String(format: "kept %@; calibrated (T: %@); validation with beam 3: BLEU-4 %.3f ROUGE-L %.3f CIDEr-D %.3f violations %d",
                   state.selection.best.map { "\($0.part.rawValue) from epoch \($0.epoch)" }.joined(separator: ", "), config.temperatures.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "),
                   report.bleu4, report.rougeL, report.ciderD, report.groundingViolations))
        return TrainingResult(modelFile: modelURL, config: config, history: state.history, bestEpoch: state.selection.lastImprovement,
                              bestEpochs: Dictionary(uniqueKeysWithValues: state.selection.best.map { ($0.part.rawValue, $0.epoch) }), validation: report,
                              trainingSeconds: trainingSeconds, featureSeconds: featureSeconds)
    }

    /// Plain features of the validation photos under the model's current encoder.
    func validationCache(model: CaptionModel) throws -> FeatureCache {
        // The frozen encoder's features never change, so they are cached on disk; a trained encoder's are not.
        try FeatureCache.build(examples: validation, photos: photos, model: model, views: 1, augmenter: nil, seed: 0,
                               cacheDirectory: model.config.encoderMode == .frozen ? cacheDirectory : nil, label: "encoding validation",
                               progress: progress)
    }

    /// Raw colour statistics of every training example's first photo, as the drafter prepares it (M, width).
    func plainColourStatistics(size: Int) throws -> Tensor {
        var rows: [Tensor] = []
        for start in stride(from: 0, to: train.count, by: 64) {
            let photos = try train[start ..< min(start + 64, train.count)].map {
                try Transforms.resize(Transforms.padToSquare(self.photos.photo($0.images[0]).tensor()), height: size, width: size)
            }
            rows.append(try Functional.colourStatistics(Tensor.stack(photos)))
        }
        return try Tensor.cat(rows)
    }

    func augmentedBatch(_ indices: [Int], augmenter: Augmenter, rng: inout SplitMix64) throws -> Tensor {
        let images = try indices.map { i -> Tensor in
            let example = train[i]
            let photo = try photos.photo(example.images[Int.random(in: 0 ..< example.images.count, using: &rng)]).tensor()
            return try EfficientNetLite.normalize(augmenter(Transforms.padToSquare(photo), using: &rng))
        }
        return try Tensor.stack(images)
    }

    /// Mean teacher-forced loss over a dataset's first references.
    func loss(model: CaptionModel, dataset: CaptionDataset, features: FeatureCache) throws -> Double {
        try withNoGrad {
            var total = 0.0, batches = 0
            for start in stride(from: 0, to: dataset.examples.count, by: options.batchSize) {
                let indices = Array(start ..< min(start + options.batchSize, dataset.examples.count))
                let out = try model.forward(features: features.batch(indices.map { (example: $0, view: 0) }),
                                            targets: .init(tokens: dataset.tokens(indices.map { (example: $0, reference: 0) }),
                                                           attributes: dataset.attributeTargets(indices)),
                                            labelSmoothing: 0, attributeWeight: options.attributeWeight)
                total += try out.loss.item()
                batches += 1
            }
            return total / Double(max(batches, 1))
        }
    }

    func writePlots(_ history: [EpochRecord]) throws {
        try LinePlot(title: "Loss", series: [
            .init("train", history.map(\.trainLoss)), .init("caption", history.map(\.captionLoss)),
            .init("attributes", history.map(\.attributeLoss)), .init("validation", history.map(\.validationLoss)),
        ]).write(to: runDirectory.appendingPathComponent("loss.png"))
        try LinePlot(title: "Validation", series: [
            .init("BLEU-4", history.map(\.validation.bleu4)), .init("ROUGE-L", history.map(\.validation.rougeL)),
            .init("category", history.map { $0.validation.accuracy["category"] ?? 0 }),
            .init("metal", history.map { $0.validation.accuracy["metal"] ?? 0 }),
            .init("gemstones", history.map { $0.validation.accuracy["gemstone"] ?? 0 }),
        ]).write(to: runDirectory.appendingPathComponent("metrics.png"))
    }
}

/// Temperature scaling (Guo et al. 2017): one temperature per attribute field, chosen on validation to
/// minimise the negative log-likelihood; accuracy is unchanged, confidences become honest.
public enum Calibration {
    public static func fitTemperatures(model: CaptionModel, features: FeatureCache, dataset: CaptionDataset) throws -> [String: Double] {
        try withNoGrad {
            let n = dataset.examples.count
            let all = try features.batch((0 ..< n).map { (example: $0, view: 0) })
            let logits = try model.attributeLogits(all)
            let targets = try dataset.attributeTargets(Array(0 ..< n))
            var out: [String: Double] = [:]
            for field in model.config.fields {
                guard let l = logits[field.name], let t = targets[field.name] else { continue }
                out[field.name] = try bestTemperature(logits: l, targets: t, multiple: field.multiple)
            }
            return out
        }
    }

    /// The temperature minimising the NLL of `logits / T`: a log-spaced grid 0.25 … 8 (121 points) — a 1-D
    /// problem where a grid is exact enough and never diverges.
    public static func bestTemperature(logits: Tensor, targets: Tensor, multiple: Bool) throws -> Double {
        try withNoGrad {
            var best = (temperature: 1.0, nll: Double.infinity)
            for k in 0 ... 120 {
                let temperature = 0.25 * Foundation.pow(32, Double(k) / 120)
                let scaled = try logits / temperature
                let nll = multiple ? try Functional.binaryCrossEntropyWithLogits(scaled, target: targets).item()
                                   : try Functional.crossEntropy(scaled, target: targets).item()
                if nll < best.nll { best = (temperature, nll) }
            }
            return best.temperature
        }
    }
}
