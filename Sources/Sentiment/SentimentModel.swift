import Foundation
import Scoring
import Torch

/// What a saved sentiment model is, in its `.json` beside the weights: the encoder's shape, where it
/// started (MiniLM or scratch), the labels and the tokenizer's limit. The vocabulary is saved beside
/// the model as `<name>.vocab.txt`, so a model file never depends on the package it came from.
public struct SentimentModelConfig: Codable, Sendable, Equatable {
    public enum Initialisation: String, Codable, Sendable { case miniLM = "minilm", scratch }

    public var encoder: MiniLMConfig
    public var initialisation: Initialisation
    public var labels = ["negative", "positive"]
    public var maxLength = 128
    public var corpus = ""
    public var version = ""
    /// The model this one was fine-tuned from (`--init-from`), if not MiniLM's pretrained encoder or random weights.
    public var startedFrom: String?

    public init(encoder: MiniLMConfig, initialisation: Initialisation) { (self.encoder, self.initialisation) = (encoder, initialisation) }

    /// The small transformer trained from scratch: 4 layers, 256 wide, 4 heads (about 11 M parameters,
    /// 7.8 M of them the WordPiece embeddings).
    public static var scratch: SentimentModelConfig {
        var c = MiniLMConfig()
        (c.layers, c.hidden, c.heads, c.intermediate, c.maxPositions) = (4, 256, 4, 1024, 128)
        return SentimentModelConfig(encoder: c, initialisation: .scratch)
    }
}

/// One prediction: `{"prediction": "positive", "confidence": 0.98}`.
public struct SentimentPrediction: Codable, Sendable, Equatable {
    public let prediction: String
    public let confidence: Double

    public init(prediction: String, confidence: Double) { (self.prediction, self.confidence) = (prediction, confidence) }
}

/// A trained classifier with its tokenizer: text in, label and probability out.
public final class SentimentModel {
    public let config: SentimentModelConfig
    public let tokenizer: WordPieceTokenizer
    public let network: TransformerClassifier

    public init(config: SentimentModelConfig, tokenizer: WordPieceTokenizer, network: TransformerClassifier) {
        (self.config, self.tokenizer, self.network) = (config, tokenizer, network)
    }

    public static func vocabularyURL(for model: URL) -> URL {
        model.deletingPathExtension().appendingPathExtension("vocab.txt")
    }

    public convenience init(contentsOf url: URL) throws {
        let config = try Checkpoint.loadConfig(SentimentModelConfig.self, for: url)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: Self.vocabularyURL(for: url))
        let network = try TransformerClassifier(encoder: config.encoder, labels: config.labels)
        try network.store.load(Checkpoint.load(from: url))
        network.store.eval()
        self.init(config: config, tokenizer: tokenizer, network: network)
    }

    public func save(to url: URL) throws {
        try Checkpoint.save(network.store, config: config, to: url)
        try AtomicFile.write(Data((tokenizer.tokens.joined(separator: "\n") + "\n").utf8), to: Self.vocabularyURL(for: url))
    }

    /// (ids, mask) tensors for a batch of texts, padded to the longest.
    public func encode(_ texts: [String]) throws -> (ids: Tensor, mask: Tensor) {
        try tensors(texts.map { tokenizer.encode($0, maxLength: config.maxLength) })
    }

    func tensors(_ encoded: [[Int]]) throws -> (ids: Tensor, mask: Tensor) {
        let (ids, mask) = tokenizer.pad(encoded)
        let shape = [encoded.count, ids.first?.count ?? 2]
        return (try Tensor(ids.flatMap { $0.map(Int64.init) }, shape: shape), try Tensor(mask.flatMap { $0.map(Int64.init) }, shape: shape))
    }

    /// Class probabilities (N, labels) in eval mode, in the order of `texts`. The texts are batched by
    /// token count (shortest first), so that a batch is padded only to its own longest text rather than
    /// to the longest of an arbitrary mix: the answers are the same, the padding work is not.
    public func probabilities(_ texts: [String], batchSize: Int = 32) throws -> [[Double]] {
        precondition(batchSize >= 1, "a batch holds at least one text")
        let wasTraining = network.store.isTraining
        network.store.eval()
        defer { if wasTraining { network.store.train() } }
        let encoded = texts.map { tokenizer.encode($0, maxLength: config.maxLength) }
        let order = encoded.indices.sorted { (encoded[$0].count, $0) < (encoded[$1].count, $1) }
        var out = [[Double]](repeating: [], count: texts.count)
        let k = config.labels.count
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let chunk = order[start ..< min(start + batchSize, order.count)]
            let (ids, mask) = try tensors(chunk.map { encoded[$0] })
            let flat = try withNoGrad { try network(ids: ids, mask: mask).softmax(dim: 1).to(.float64) }.doubles()
            for (row, index) in chunk.enumerated() { out[index] = Array(flat[row * k ..< (row + 1) * k]) }
        }
        return out
    }

    public func predict(_ texts: [String], batchSize: Int = 32) throws -> [SentimentPrediction] {
        try probabilities(texts, batchSize: batchSize).map { p in
            let best = p.indices.max { p[$0] < p[$1] }!
            return SentimentPrediction(prediction: config.labels[best], confidence: p[best])
        }
    }
}

/// Accuracy and F1 (positive class) of predictions against labels.
public struct SentimentScores: Codable, Sendable, Equatable {
    public let count: Int
    public let accuracy: Double
    public let f1: Double

    public init(predicted: [Int], truth: [Int]) {
        precondition(predicted.count == truth.count, "one prediction per label")
        count = truth.count
        accuracy = Classification.accuracy(predicted: predicted, truth: truth)
        f1 = Classification.binaryF1(predicted: predicted.map { $0 == 1 }, truth: truth.map { $0 == 1 })
    }
}

/// Any sentiment model the CLI and the service can load: the transformer classifiers and NB-SVM.
public protocol SentimentClassifier {
    var version: String { get }
    var parameterCount: Int { get }
    func predict(_ texts: [String], batchSize: Int) throws -> [SentimentPrediction]
}

extension SentimentModel: SentimentClassifier {
    public var version: String { config.version }
    public var parameterCount: Int { network.store.parameterCount }
}

extension NBSVM: SentimentClassifier {
    public var parameterCount: Int { weights.count * 2 + 1 }  // a weight and a ratio per n-gram, and the bias
    public func predict(_ texts: [String], batchSize: Int) throws -> [SentimentPrediction] { predict(texts) }

    public static let fileSuffix = ".nbsvm.json"

    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}

public enum SentimentModels {
    /// A `.nbsvm.json` file is NB-SVM; anything else a transformer checkpoint (`.pt` + `.json` + `.vocab.txt`).
    public static func load(_ url: URL) throws -> any SentimentClassifier {
        if url.lastPathComponent.hasSuffix(NBSVM.fileSuffix) { return try JSONDecoder().decode(NBSVM.self, from: Data(contentsOf: url)) }
        return try SentimentModel(contentsOf: url)
    }

    /// Accuracy and F1 of a classifier on labelled sentences.
    public static func evaluate(_ model: any SentimentClassifier, on sentences: [ReviewSentence], batchSize: Int = 32) throws -> SentimentScores {
        let predictions = try model.predict(sentences.map(\.text), batchSize: batchSize)
        return SentimentScores(predicted: predictions.map { $0.prediction == "positive" ? 1 : 0 }, truth: sentences.map { $0.label! })
    }
}
