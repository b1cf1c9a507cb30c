import Foundation
import Imaging
import Torch

/// Task-adaptive pretraining (Gururangan et al. 2020, "Don't Stop Pretraining"): before a classifier is
/// fine-tuned, its encoder goes on with BERT's masked-language-model task over the task's own unlabelled
/// text, so its word statistics move towards the reviews'. MiniLM's file carries no MLM head, so a fresh
/// BERT head (dense + GELU + LayerNorm, then the word embeddings transposed + a bias) learns beside it.

/// BERT's masking (`create_pretraining_data.py`): per sentence, round(15 % of its word pieces), at least
/// one, never [CLS], [SEP], [UNK] or padding; of those, 80 % become [MASK], 10 % a random word piece (not
/// one of those), 10 % stay.
/// The targets are the original ids at the chosen positions and `ignored` elsewhere.
public struct TokenMasking: Sendable {
    public static let ignored = -100
    public let fraction: Double
    public let maskID: Int
    public let special: Set<Int>
    public let vocabularySize: Int

    public init(tokenizer: WordPieceTokenizer, fraction: Double = 0.15) throws {
        guard let mask = tokenizer.vocabulary["[MASK]"] else { throw TorchError("the vocabulary has no [MASK] token") }
        precondition(fraction > 0 && fraction < 1, "mask fraction in (0, 1)")
        (self.fraction, maskID, vocabularySize) = (fraction, mask, tokenizer.tokens.count)
        special = [tokenizer.classification, tokenizer.separator, tokenizer.padding, tokenizer.unknown, mask]
    }

    public func callAsFunction(_ sentence: [Int], using rng: inout some RandomNumberGenerator) -> (ids: [Int], targets: [Int]) {
        var ids = sentence, targets = [Int](repeating: Self.ignored, count: sentence.count)
        let candidates = sentence.indices.filter { !special.contains(sentence[$0]) }
        guard !candidates.isEmpty else { return (ids, targets) }
        let count = max(1, Int((Double(candidates.count) * fraction).rounded()))
        for position in candidates.shuffled(using: &rng).prefix(count) {
            targets[position] = sentence[position]
            let roll = Double.random(in: 0 ..< 1, using: &rng)
            if roll < 0.8 {
                ids[position] = maskID
            } else if roll < 0.9 {
                var replacement: Int
                repeat { replacement = Int.random(in: 0 ..< vocabularySize, using: &rng) } while special.contains(replacement)
                ids[position] = replacement
            }
        }
        return (ids, targets)
    }
}

/// BERT's MLM head with Hugging Face's names (`cls.predictions.transform.dense`,
/// `cls.predictions.transform.LayerNorm`, `cls.predictions.bias`); the output weights are the encoder's
/// word embeddings (tied, as in BERT).
public final class MaskedLanguageHead {
    public let store: ParameterStore
    let dense: Linear, norm: LayerNorm
    let bias: Tensor

    public init(encoder config: MiniLMConfig, store: ParameterStore = ParameterStore()) throws {
        self.store = store
        let p = store.root / "cls" / "predictions"
        dense = try Linear(p / "transform" / "dense", inFeatures: config.hidden, outFeatures: config.hidden)
        norm = try LayerNorm(p / "transform" / "LayerNorm", shape: [config.hidden], eps: config.layerNormEps)
        bias = try p.parameter("bias", shape: [config.vocabularySize], initializer: .zeros)
    }

    /// states (M, H), word embeddings (V, H) → logits (M, V).
    public func callAsFunction(_ states: Tensor, wordEmbeddings: Tensor) throws -> Tensor {
        try Functional.linear(norm(dense(states).gelu()), weight: wordEmbeddings, bias: bias)
    }
}

public struct MaskedLanguageOptions: Codable, Sendable, Equatable {
    public var epochs = 10
    public var batchSize = 32
    public var learningRate = 1e-4
    public var warmupFraction = 0.06
    public var weightDecay = 0.01
    public var gradientClip = 1.0
    public var maskFraction = 0.15
    public var seed: UInt64 = 0

    public init() {}
}

public struct MaskedLanguageEpoch: Codable, Sendable, Equatable {
    public let epoch: Int
    public let trainLoss: Double
    /// Over the validation texts, masked the same way every epoch.
    public let validationLoss: Double, validationAccuracy: Double
    public let seconds: Double
}

/// Runs the MLM task on a sentiment model's encoder (its classification head is left as it is) and
/// writes the model, ready for `loupe train sentiment --init-from`, after every epoch; the run
/// directory gets `history.json` and `mlm-loss.png`.
public struct MaskedLanguagePretrainer {
    public let model: SentimentModel
    public let options: MaskedLanguageOptions
    let texts: [String], validation: [String]
    public let runDirectory: URL
    let log: (String) -> Void
    let progress: (String, Int, Int) -> Void

    public init(model: SentimentModel, options: MaskedLanguageOptions, texts: [String], validation: [String], runDirectory: URL,
                log: @escaping (String) -> Void, progress: @escaping (String, Int, Int) -> Void) {
        precondition(texts.count >= options.batchSize, "at least one batch of texts")
        (self.model, self.options, self.texts, self.validation) = (model, options, texts, validation)
        (self.runDirectory, self.log, self.progress) = (runDirectory, log, progress)
    }

    public var modelURL: URL { runDirectory.appendingPathComponent("model.pt") }

    /// ids (N, L), mask (N, L), targets (N, L) → (mean cross-entropy over the masked positions, how many of
    /// them the model gets right); nil when nothing is masked (texts without a maskable word piece). The
    /// encoder runs on the whole batch; only the masked positions' states go through the head's (M, V)
    /// projection.
    static func loss(model: SentimentModel, head: MaskedLanguageHead, ids: Tensor, mask: Tensor, targets: [Int]) throws -> (loss: Tensor, correct: Int, count: Int)? {
        let positions = targets.indices.filter { targets[$0] != TokenMasking.ignored }
        guard !positions.isEmpty else { return nil }
        let states = try model.network.encoder(ids: ids, mask: mask)                          // (N, L, H)
        let picked = try states.reshape(-1, states.shape[2]).indexSelect(dim: 0, index: Tensor(positions.map(Int64.init), shape: [positions.count]))  // (M, H)
        let logits = try head(picked, wordEmbeddings: model.network.encoder.words.weight)      // (M, V)
        let truth = positions.map { Int64(targets[$0]) }
        let loss = try Functional.crossEntropy(logits, target: Tensor(truth, shape: [truth.count]))
        let predicted = try logits.argmax(dim: 1).int64s()
        return (loss, zip(predicted, truth).filter { $0 == $1 }.count, truth.count)
    }

    func batch(_ texts: [String], rng: inout SeededGenerator, masking: TokenMasking) throws -> (ids: Tensor, mask: Tensor, targets: [Int]) {
        let masked = texts.map { masking(model.tokenizer.encode($0, maxLength: model.config.maxLength), using: &rng) }
        let (ids, mask) = try model.tensors(masked.map(\.ids))                                 // (N, L)
        let width = ids.shape[1]
        let targets = masked.flatMap { $0.targets + [Int](repeating: TokenMasking.ignored, count: width - $0.targets.count) }
        return (ids, mask, targets)
    }

    func evaluate(head: MaskedLanguageHead, masking: TokenMasking) throws -> (loss: Double, accuracy: Double) {
        model.network.store.eval()
        head.store.eval()
        defer { model.network.store.train(); head.store.train() }
        var rng = SeededGenerator(seed: 0x5EED)
        var lossSum = 0.0, correct = 0, count = 0
        for start in stride(from: 0, to: validation.count, by: 64) {
            let (ids, mask, targets) = try batch(Array(validation[start ..< min(start + 64, validation.count)]), rng: &rng, masking: masking)
            guard let result = try withNoGrad({ try Self.loss(model: model, head: head, ids: ids, mask: mask, targets: targets) }) else { continue }
            lossSum += try result.loss.item() * Double(result.count)
            (correct, count) = (correct + result.correct, count + result.count)
        }
        return (lossSum / Double(max(count, 1)), Double(correct) / Double(max(count, 1)))
    }

    @discardableResult
    public func run() throws -> [MaskedLanguageEpoch] {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let masking = try TokenMasking(tokenizer: model.tokenizer, fraction: options.maskFraction)
        LibTorch.manualSeed(options.seed)
        let head = try MaskedLanguageHead(encoder: model.config.encoder)
        let network = model.network
        // The classification head gets no gradient here; AdamW only sees the encoder and the MLM head.
        let encoderParameters = network.store.entries.filter { !$0.name.hasPrefix("classifier.") && $0.kind == .parameter && $0.tensor.requiresGrad }.map(\.tensor)
        let optimizer = try Optimizer(.adamW(weightDecay: options.weightDecay), parameters: encoderParameters + head.store.trainableParameters,
                                      learningRate: options.learningRate)
        let stepsPerEpoch = texts.count / options.batchSize, total = stepsPerEpoch * options.epochs
        let schedule = WarmupCosine(peak: options.learningRate, warmupSteps: Int(Double(total) * options.warmupFraction), totalSteps: total)
        var history: [MaskedLanguageEpoch] = []
        let before = try evaluate(head: head, masking: masking)
        log(String(format: "before: validation masked-token loss %.4f, accuracy %.4f (%d texts)", before.loss, before.accuracy, validation.count))
        let start = Date()
        var step = 0
        for epoch in 0 ..< options.epochs {
            let epochStart = Date()
            network.store.train()
            head.store.train()
            // Dynamic masking (RoBERTa): a new draw of masked positions every epoch.
            var rng = SeededGenerator(seed: options.seed &+ UInt64(epoch) &* 1_000_003)
            let order = Array(texts.indices).shuffled(using: &rng)
            var lossSum = 0.0
            for s in 0 ..< stepsPerEpoch {
                let chunk = order[s * options.batchSize ..< (s + 1) * options.batchSize].map { texts[$0] }
                let (ids, mask, targets) = try batch(chunk, rng: &rng, masking: masking)
                try optimizer.setLearningRate(schedule.rate(at: step))
                step += 1
                guard let loss = try Self.loss(model: model, head: head, ids: ids, mask: mask, targets: targets)?.loss else { continue }
                try optimizer.zeroGrad()
                try loss.backward()
                _ = try optimizer.clipGradNorm(maxNorm: options.gradientClip)
                try optimizer.step()
                lossSum += try loss.item()
                progress(String(format: "mlm epoch %d/%d loss %.4f", epoch + 1, options.epochs, lossSum / Double(s + 1)), s + 1, stepsPerEpoch)
            }
            let scores = try evaluate(head: head, masking: masking)
            let record = MaskedLanguageEpoch(epoch: epoch + 1, trainLoss: lossSum / Double(stepsPerEpoch), validationLoss: scores.loss,
                                             validationAccuracy: scores.accuracy, seconds: Date().timeIntervalSince(epochStart))
            history.append(record)
            network.store.eval()
            try model.save(to: modelURL)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(encoder.encode(history), to: runDirectory.appendingPathComponent("history.json"))
            try LinePlot(title: "Masked-language-model loss", series: [.init("train", history.map(\.trainLoss)), .init("validation", history.map(\.validationLoss))])
                .write(to: runDirectory.appendingPathComponent("mlm-loss.png"))
            let eta = Double(options.epochs - epoch - 1) * Date().timeIntervalSince(start) / Double(epoch + 1)
            log(String(format: "mlm epoch %d/%d  loss %.4f  validation loss %.4f  masked accuracy %.4f  %.0fs  ETA %@", epoch + 1, options.epochs,
                       record.trainLoss, scores.loss, scores.accuracy, record.seconds, formatDuration(eta)))
        }
        return history
    }
}
