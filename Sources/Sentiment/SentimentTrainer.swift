import Foundation
import Imaging
import Torch

/// Hyper-parameters of a sentiment run, saved with it.
public struct SentimentTrainingOptions: Codable, Sendable, ExtensibleTrainingOptions {
    public var epochs = 3
    public var batchSize = 32
    /// Peak learning rate of AdamW (warm-up, then cosine decay to 0): 5e-5 fine-tunes MiniLM; a model
    /// from scratch wants about 5e-4.
    public var learningRate = 5e-5
    public var warmupFraction = 0.1
    public var weightDecay = 0.01
    public var gradientClip = 1.0
    public var seed: UInt64 = 0
    /// Soft targets from the raters: with a scale k, a sentence of mean rating r is trained towards
    /// P(positive) = σ(k·r) instead of its sign, so a sentence the raters barely agreed on (r = 0.6) asks
    /// for 0.71 at k = 1.5 and a clear one (r = 3) for 0.99. nil: hard labels (the sign).
    public var softLabelScale: Double?

    public init() {}

    /// The training target of one sentence: P(positive) (the label itself without soft labels).
    public func target(_ sentence: ReviewSentence) -> Double {
        guard let k = softLabelScale else { return Double(sentence.label!) }
        return 1 / (1 + exp(-k * sentence.rating))
    }
}

public struct SentimentEpochRecord: Codable, Sendable, Equatable {
    public let epoch: Int
    public let trainLoss: Double
    public let validation: SentimentScores
    public let seconds: Double
}

struct SentimentTrainerState: Codable {
    var options: SentimentTrainingOptions
    var epoch: Int
    var step: Int
    var history: [SentimentEpochRecord]
    var bestAccuracy: Double
}

public struct SentimentTrainingResult: Sendable {
    public let modelFile: URL
    public let history: [SentimentEpochRecord]
    public let bestEpoch: Int
    public let seconds: Double
}

/// Fine-tunes (or trains) a `SentimentModel` on labelled sentences: cross-entropy, AdamW with warm-up
/// and cosine decay, gradient clipping; every epoch accuracy and F1 on validation, and the best epoch
/// by accuracy kept as `model.pt`; loss and accuracy curves as PNG; resumable after every epoch.
public final class SentimentTrainer {
    public let model: SentimentModel
    public let options: SentimentTrainingOptions
    let train: [ReviewSentence], validation: [ReviewSentence]
    public let runDirectory: URL
    let log: (String) -> Void
    let progress: (String, Int, Int) -> Void

    public init(model: SentimentModel, options: SentimentTrainingOptions, train: [ReviewSentence], validation: [ReviewSentence], runDirectory: URL,
                log: @escaping (String) -> Void, progress: @escaping (String, Int, Int) -> Void) {
        precondition(validation.allSatisfy { $0.label != nil }, "a labelled validation set")
        precondition(options.softLabelScale != nil || train.allSatisfy { $0.label != nil }, "neutral sentences need soft labels")
        precondition(train.count >= options.batchSize && !validation.isEmpty, "at least one batch to train on and something to validate")
        (self.model, self.options, self.train, self.validation, self.runDirectory) = (model, options, train, validation, runDirectory)
        (self.log, self.progress) = (log, progress)
    }

    var stateURL: URL { runDirectory.appendingPathComponent("state.json") }
    var lastURL: URL { runDirectory.appendingPathComponent("model-last.pt") }
    var optimizerURL: URL { runDirectory.appendingPathComponent("optimizer.pt") }
    public var bestURL: URL { runDirectory.appendingPathComponent("model.pt") }

    public func run(resume: Bool) throws -> SentimentTrainingResult {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        var state = SentimentTrainerState(options: options, epoch: 0, step: 0, history: [], bestAccuracy: -1)
        if let saved = try TrainingRun.savedState(SentimentTrainerState.self, at: stateURL, resume: resume,
                                                  isSameRun: { $0.options.isSameRun(as: options) }) {
            state = saved
            state.options = options
            log("resuming after epoch \(state.epoch)")
        }
        let network = model.network
        let optimizer = try Optimizer(.adamW(weightDecay: options.weightDecay), parameters: network.store.trainableParameters,
                                      learningRate: options.learningRate)
        if state.epoch > 0 {
            try network.store.load(Checkpoint.load(from: lastURL))
            try optimizer.load(from: optimizerURL)
        }
        let stepsPerEpoch = train.count / options.batchSize
        let total = stepsPerEpoch * options.epochs
        let schedule = WarmupCosine(peak: options.learningRate, warmupSteps: Int(Double(total) * options.warmupFraction), totalSteps: total)
        LibTorch.manualSeed(options.seed &+ UInt64(state.epoch))
        let start = Date(), startEpoch = state.epoch
        while state.epoch < options.epochs {
            let epochStart = Date()
            network.store.train()
            var rng = SeededGenerator(seed: options.seed &+ UInt64(state.epoch) &* 1_000_003)
            let order = Array(train.indices).shuffled(using: &rng)
            var lossSum = 0.0
            for s in 0 ..< stepsPerEpoch {
                let batch = order[s * options.batchSize ..< (s + 1) * options.batchSize].map { train[$0] }
                let (ids, mask) = try model.encode(batch.map(\.text))
                try optimizer.setLearningRate(schedule.rate(at: state.step))
                let loss = try SentimentTrainer.loss(logits: network(ids: ids, mask: mask), batch: batch, options: options)
                try optimizer.zeroGrad()
                try loss.backward()
                _ = try optimizer.clipGradNorm(maxNorm: options.gradientClip)
                try optimizer.step()
                state.step += 1
                lossSum += try loss.item()
                progress(String(format: "epoch %d/%d loss %.4f", state.epoch + 1, options.epochs, lossSum / Double(s + 1)), s + 1, stepsPerEpoch)
            }
            let scores = try SentimentModels.evaluate(model, on: validation, batchSize: 64)
            let record = SentimentEpochRecord(epoch: state.epoch + 1, trainLoss: lossSum / Double(stepsPerEpoch), validation: scores,
                                              seconds: Date().timeIntervalSince(epochStart))
            state.history.append(record)
            state.epoch += 1
            let improved = scores.accuracy > state.bestAccuracy
            if improved {
                state.bestAccuracy = scores.accuracy
                try model.save(to: bestURL)
            }
            try Checkpoint.save(network.store.namedTensors, to: lastURL)
            try optimizer.save(to: optimizerURL)
            try AtomicFile.write(JSONEncoder().encode(state), to: stateURL)
            try writePlots(state.history)
            let eta = Double(options.epochs - state.epoch) * Date().timeIntervalSince(start) / Double(max(state.epoch - startEpoch, 1))
            log(String(format: "epoch %d/%d  loss %.4f  validation accuracy %.4f  F1 %.4f%@  %.0fs  ETA %@", state.epoch, options.epochs,
                       record.trainLoss, scores.accuracy, scores.f1, improved ? "  (best)" : "", record.seconds, formatDuration(eta)))
        }
        let best = state.history.max { $0.validation.accuracy < $1.validation.accuracy }!
        return SentimentTrainingResult(modelFile: bestURL, history: state.history, bestEpoch: best.epoch,
                                       seconds: state.history.reduce(0) { $0 + $1.seconds })
    }

    /// Cross-entropy of logits (N, 2) against the hard labels, or against the soft targets
    /// (1 − p, p) of `options.softLabelScale`: −Σ_c q_c log softmax(logits)_c, averaged over the batch.
    static func loss(logits: Tensor, batch: [ReviewSentence], options: SentimentTrainingOptions) throws -> Tensor {
        guard options.softLabelScale != nil else {
            return try Functional.crossEntropy(logits, target: Tensor(batch.map { Int64($0.label!) }, shape: [batch.count]))
        }
        let q = try Tensor(batch.flatMap { s -> [Float] in let p = Float(options.target(s)); return [1 - p, p] }, shape: [batch.count, 2])
        return try (logits.logSoftmax(dim: 1) * q).sum(dims: [1]).mean().neg()
    }

    func writePlots(_ history: [SentimentEpochRecord]) throws {
        try LinePlot(title: "Sentiment training loss", series: [.init("train loss", history.map(\.trainLoss))])
            .write(to: runDirectory.appendingPathComponent("loss.png"))
        try LinePlot(title: "Validation", series: [.init("accuracy", history.map(\.validation.accuracy)), .init("F1", history.map(\.validation.f1))])
            .write(to: runDirectory.appendingPathComponent("accuracy.png"))
    }
}
