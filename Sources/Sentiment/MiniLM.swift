import Foundation
import Torch

/// A BERT encoder's shape, read from Hugging Face's `config.json` (MiniLM-L6-H384: 6 layers, 384 wide,
/// 12 heads, 1,536 in the feed-forward, GELU, post-LayerNorm with ε 1e-12).
public struct MiniLMConfig: Codable, Sendable, Equatable {
    public var vocabularySize = 30522
    public var hidden = 384
    public var layers = 6
    public var heads = 12
    public var intermediate = 1536
    public var maxPositions = 512
    public var typeVocabularySize = 2
    public var layerNormEps = 1e-12
    public var hiddenDropout = 0.1
    public var attentionDropout = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hidden = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
        case intermediate = "intermediate_size", maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenDropout = "hidden_dropout_prob", attentionDropout = "attention_probs_dropout_prob"
    }

    public static func load(from url: URL) throws -> MiniLMConfig {
        let config = try JSONDecoder().decode(MiniLMConfig.self, from: Data(contentsOf: url))
        guard config.hidden % config.heads == 0 else { throw TorchError("hidden size \(config.hidden) is not a multiple of \(config.heads) heads") }
        return config
    }
}

/// BERT's encoder with Hugging Face's parameter names (`embeddings.word_embeddings.weight`,
/// `encoder.layer.0.attention.self.query.weight`, …, `pooler.dense.weight`), so the MiniLM
/// safetensors file loads strictly. The pooler is kept for the layout but frozen: sentences are
/// represented by the mean of their token states (sentence-transformers' pooling for this model).
public final class MiniLMEncoder {
    public let config: MiniLMConfig
    let words: Embedding, positions: Embedding, types: Embedding, embeddingNorm: LayerNorm
    let layers: [Layer]
    let dropout: Dropout

    final class Layer {
        let query: Linear, key: Linear, value: Linear, attentionOut: Linear, attentionNorm: LayerNorm
        let intermediate: Linear, output: Linear, outputNorm: LayerNorm
        let dropout: Dropout, attentionDropout: Double
        let heads: Int
        let path: ParameterPath

        init(_ p: ParameterPath, _ c: MiniLMConfig) throws {
            let a = p / "attention"
            query = try Linear(a / "self" / "query", inFeatures: c.hidden, outFeatures: c.hidden)
            key = try Linear(a / "self" / "key", inFeatures: c.hidden, outFeatures: c.hidden)
            value = try Linear(a / "self" / "value", inFeatures: c.hidden, outFeatures: c.hidden)
            attentionOut = try Linear(a / "output" / "dense", inFeatures: c.hidden, outFeatures: c.hidden)
            attentionNorm = try LayerNorm(a / "output" / "LayerNorm", shape: [c.hidden], eps: c.layerNormEps)
            intermediate = try Linear(p / "intermediate" / "dense", inFeatures: c.hidden, outFeatures: c.intermediate)
            output = try Linear(p / "output" / "dense", inFeatures: c.intermediate, outFeatures: c.hidden)
            outputNorm = try LayerNorm(p / "output" / "LayerNorm", shape: [c.hidden], eps: c.layerNormEps)
            dropout = Dropout(p, p: c.hiddenDropout)
            (attentionDropout, heads, path) = (c.attentionDropout, c.heads, p)
        }

        /// x (T, H) — the batch's real tokens only, see `Packing` —, padding (N, 1, 1, L) bool (true =
        /// padding) → (T, H).
        func callAsFunction(_ x: Tensor, packing: Packing, padding: Tensor) throws -> Tensor {
            let (n, l, h) = (packing.batch, packing.length, x.shape[1])
            func split(_ t: Tensor) throws -> Tensor { try packing.unpack(t).reshape(n, l, heads, h / heads).transpose(1, 2) }  // (N, heads, L, d)
            let attended = try Functional.scaledDotProductAttention(query: split(query(x)), key: split(key(x)), value: split(value(x)),
                                                                     mask: padding, dropout: attentionDropout, training: path.isTraining).output
            let merged = try packing.pack(attended.transpose(1, 2).contiguous().reshape(n * l, h))    // (T, H)
            let y = try attentionNorm(dropout(attentionOut(merged)) + x)                               // post-LN
            return try outputNorm(dropout(output(intermediate(y).gelu())) + y)                         // (T, H)
        }
    }

    /// Where a padded batch's real tokens are. Every linear and normalisation layer works on the T real
    /// tokens (T, H) rather than the N·L padded positions; only attention unpacks them to (N, L, …),
    /// padding as zeros and masked. A batch of reviews of mixed lengths does the work of its tokens, not
    /// of N times its longest review, and the answer is the same (padding never reaches a real token).
    struct Packing {
        let batch: Int, length: Int, tokens: Int
        /// (T) the flat positions (n·L + l) of the real tokens; (N·L) for each position its row in the
        /// packed tensor, T (a zero row) for padding. Nil when nothing is padded.
        let packIndex: Tensor?, unpackIndex: Tensor?

        init(mask: Tensor) throws {
            (batch, length) = (mask.shape[0], mask.shape[1])
            let flat = try mask.int64s()
            let real = flat.indices.filter { flat[$0] != 0 }
            tokens = real.count
            guard tokens < flat.count else { (packIndex, unpackIndex) = (nil, nil); return }
            var rows = [Int64](repeating: Int64(tokens), count: flat.count)
            for (row, position) in real.enumerated() { rows[position] = Int64(row) }
            packIndex = try Tensor(real.map(Int64.init), shape: [tokens])
            unpackIndex = try Tensor(rows, shape: [flat.count])
        }

        /// (N·L, H) → (T, H).
        func pack(_ x: Tensor) throws -> Tensor {
            guard let packIndex else { return x }
            return try x.indexSelect(dim: 0, index: packIndex)
        }

        /// (T, H) → (N·L, H), zeros at the padding.
        func unpack(_ x: Tensor) throws -> Tensor {
            guard let unpackIndex else { return x }
            return try Tensor.cat([x, Tensor.zeros([1, x.shape[1]], dtype: x.dtype)]).indexSelect(dim: 0, index: unpackIndex)
        }
    }

    public init(config: MiniLMConfig, path p: ParameterPath) throws {
        self.config = config
        let e = p / "embeddings"
        words = try Embedding(e / "word_embeddings", count: config.vocabularySize, dimension: config.hidden)
        positions = try Embedding(e / "position_embeddings", count: config.maxPositions, dimension: config.hidden)
        types = try Embedding(e / "token_type_embeddings", count: config.typeVocabularySize, dimension: config.hidden)
        embeddingNorm = try LayerNorm(e / "LayerNorm", shape: [config.hidden], eps: config.layerNormEps)
        try e.buffer("position_ids", Tensor.arange(0, Double(config.maxPositions)).reshape(1, config.maxPositions))
        layers = try (0 ..< config.layers).map { try Layer(p / "encoder" / "layer" / $0, config) }
        dropout = Dropout(e, p: config.hiddenDropout)
        try (p / "pooler" / "dense").parameter("weight", shape: [config.hidden, config.hidden], initializer: .zeros, trainable: false)
        try (p / "pooler" / "dense").parameter("bias", shape: [config.hidden], initializer: .zeros, trainable: false)
    }

    /// ids (N, L) int64 and mask (N, L) int64 (1 token, 0 padding) → token states (N, L, H), zeros at
    /// the padding.
    public func callAsFunction(ids: Tensor, mask: Tensor) throws -> Tensor {
        precondition(ids.shape.count == 2 && ids.shape == mask.shape, "ids and mask are (N, L)")
        let (n, l) = (ids.shape[0], ids.shape[1])
        precondition(l <= config.maxPositions, "at most \(config.maxPositions) tokens")
        let position = try Tensor.arange(0, Double(l)).reshape(1, l).expand([n, l])          // (N, L)
        let packing = try Packing(mask: mask)
        var x = try words(ids) + positions(position) + types(ids.zerosLike())    // (N, L, H)
        x = try packing.pack(dropout(embeddingNorm(x)).reshape(n * l, config.hidden))     // (T, H)
        let padding = try mask.eq(0).reshape(n, 1, 1, l)                               // (N, 1, 1, L)
        for layer in layers { x = try layer(x, packing: packing, padding: padding) }
        return try packing.unpack(x).reshape(n, l, config.hidden)                       // (N, L, H)
    }

    /// Mean of the token states over the real tokens: (N, L, H), (N, L) → (N, H).
    public static func meanPool(_ states: Tensor, mask: Tensor) throws -> Tensor {
        let weights = try mask.to(states.dtype).unsqueeze(2)                               // (N, L, 1)
        return try (states * weights).sum(dims: [1]) / weights.sum(dims: [1]).clamp(min: 1e-9)
    }
}
