import Foundation
@testable import Sentiment
import Testing
import Torch

@Suite struct SentimentTrainerTests {
    /// A tiny transformer from scratch learns a rule it can only get from the words (good/great vs
    /// bad/awful, with distractor words either way); the run keeps its best epoch, resumes, and the saved
    /// model (weights, config, vocabulary) reloads and predicts the same.
    @Test func learnsKeepsTheBestEpochAndResumes() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-sentiment-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        let positive = ["good", "great", "lovely"], negative = ["bad", "awful", "broken"], filler = ["ring", "chain", "clasp", "the", "is", "very"]
        var rng = SeededGenerator(seed: 7)
        func sentence(_ i: Int) -> ReviewSentence {
            let label = i % 2
            let word = (label == 1 ? positive : negative).randomElement(using: &rng)!
            var words = (0 ..< 4).map { _ in filler.randomElement(using: &rng)! }
            words.insert(word, at: Int.random(in: 0 ... 4, using: &rng))
            return ReviewSentence(id: "\(i)", rating: label == 1 ? 2 : -2, text: words.joined(separator: " "))
        }
        let train = (0 ..< 256).map(sentence), validation = (256 ..< 320).map(sentence)
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + positive + negative + filler)
        var encoder = MiniLMConfig()
        (encoder.vocabularySize, encoder.hidden, encoder.heads, encoder.intermediate, encoder.layers, encoder.maxPositions) = (tokenizer.tokens.count, 32, 2, 64, 1, 16)
        (encoder.hiddenDropout, encoder.attentionDropout) = (0, 0)
        var config = SentimentModelConfig(encoder: encoder, initialisation: .scratch)
        config.maxLength = 16
        LibTorch.manualSeed(0)
        let model = SentimentModel(config: config, tokenizer: tokenizer, network: try TransformerClassifier(encoder: encoder))
        var options = SentimentTrainingOptions()
        (options.epochs, options.batchSize, options.learningRate, options.warmupFraction) = (2, 16, 3e-3, 0)
        _ = try SentimentTrainer(model: model, options: options, train: train, validation: validation, runDirectory: run, log: { _ in },
                                 progress: { _, _, _ in }).run(resume: false)
        options.epochs = 6
        var logs: [String] = []
        let result = try SentimentTrainer(model: model, options: options, train: train, validation: validation, runDirectory: run,
                                          log: { logs.append($0) }, progress: { _, _, _ in }).run(resume: true)
        #expect(logs.first == "resuming after epoch 2")
        #expect(result.history.count == 6)
        let best = result.history.max { $0.validation.accuracy < $1.validation.accuracy }!
        #expect(best.validation.accuracy >= 0.95, "\(result.history.map(\.validation.accuracy))")
        #expect(result.bestEpoch == best.epoch)
        let reloaded = try SentimentModel(contentsOf: result.modelFile)
        #expect(try SentimentModels.evaluate(reloaded, on: validation, batchSize: 64) == best.validation)
        let predictions = try reloaded.predict(["the ring is great", "the clasp is broken"])
        #expect(predictions.map(\.prediction) == ["positive", "negative"])
        #expect(predictions.allSatisfy { $0.confidence > 0.5 && $0.confidence <= 1 })
        for file in ["loss.png", "accuracy.png", "state.json", "model.json", "model.vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file)")
        }
    }

    /// Soft labels: the loss is −Σ q log softmax against q = (1 − σ(k·r), σ(k·r)), computed here by hand;
    /// its gradient with respect to the logits is (softmax − q)/N, so logits already at the target's
    /// log-odds have zero gradient; without a scale the loss is the ordinary cross-entropy of the signs.
    @Test func softLabelLossMatchesItsDefinitionAndGradient() throws {
        let batch = [ReviewSentence(id: "a", rating: 0.6, text: "x"), ReviewSentence(id: "b", rating: -2.5, text: "y"),
                     ReviewSentence(id: "c", rating: 3.0, text: "z")]
        let raw: [Float] = [0.3, -0.2, 1.1, 0.4, -0.7, 0.9]
        var options = SentimentTrainingOptions()
        options.softLabelScale = 1.5
        #expect(abs(options.target(batch[0]) - 1 / (1 + exp(-0.9))) < 1e-12)
        func logSoftmax(_ row: Int) -> (Double, Double) {
            let (a, b) = (Double(raw[2 * row]), Double(raw[2 * row + 1])), m = max(a, b), lse = m + log(exp(a - m) + exp(b - m))
            return (a - lse, b - lse)
        }
        var expected = 0.0, expectedGrad: [Double] = []
        for (i, s) in batch.enumerated() {
            let p = 1 / (1 + exp(-1.5 * s.rating)), (l0, l1) = logSoftmax(i)
            expected -= ((1 - p) * l0 + p * l1) / 3
            expectedGrad += [(exp(l0) - (1 - p)) / 3, (exp(l1) - p) / 3]
        }
        let logits = try Tensor(raw, shape: [3, 2]).requiresGrad(true)
        let loss = try SentimentTrainer.loss(logits: logits, batch: batch, options: options)
        #expect(abs(try loss.item() - expected) < 1e-5)
        try loss.backward()
        for (g, e) in zip(try logits.grad!.floats(), expectedGrad) { #expect(abs(Double(g) - e) < 1e-5) }

        // Logits at the soft target's log-odds are the minimum: zero gradient.
        let atTarget = try Tensor(batch.flatMap { s -> [Float] in [0, Float(1.5 * s.rating)] }, shape: [3, 2]).requiresGrad(true)
        try SentimentTrainer.loss(logits: atTarget, batch: batch, options: options).backward()
        #expect(try atTarget.grad!.floats().allSatisfy { abs($0) < 1e-6 })

        // Hard labels: the cross-entropy of the signs (1, 0, 1).
        var hardExpected = 0.0
        for (i, label) in [1, 0, 1].enumerated() { let (l0, l1) = logSoftmax(i); hardExpected -= (label == 1 ? l1 : l0) / 3 }
        let hard = try SentimentTrainer.loss(logits: Tensor(raw, shape: [3, 2]), batch: batch, options: SentimentTrainingOptions())
        #expect(abs(try hard.item() - hardExpected) < 1e-5)
    }
}
