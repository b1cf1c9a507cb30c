import Catalog
import Foundation
import Imaging
import Torch

/// A value with the model's calibrated confidence.
public struct Claim: Codable, Sendable, Equatable {
    public let value: String
    public let confidence: Double
}

/// A draft listing as `loupe describe --json` prints it and the service returns it.
public struct Draft: Codable, Sendable, Equatable {
    public struct DraftAttributes: Codable, Sendable, Equatable {
        public let metal: Claim
        public let gemstones: [Claim]
        public let style: Claim
        public let finish: Claim
    }
    public let title: String
    public let description: String
    public let category: Claim
    public let attributes: DraftAttributes
    /// Fields a person must confirm: the draft does not assert them.
    public let needsReview: [String]
    public let model: String

    enum CodingKeys: String, CodingKey {
        case title, description, category, attributes, needsReview = "needs_review", model
    }
}

/// Photo → draft: preprocessing, encoder, attribute heads, grounded beam search, slot filling.
public final class Drafter {
    public let model: CaptionModel
    public let grounding: Grounding
    let banned: Set<Int>
    /// The decoder packed for the fused step on the first draft, then reused: a Drafter describes its
    /// model as it was then (the trainer makes a new one after each epoch).
    private var packedDecoder: FusedDecoderWeights?
    /// The encoder with its batch norms folded in, likewise built on the first photo.
    private var foldedEncoder: FoldedEncoder?
    /// Run the folded encoder as libtorch operators (the reference) instead of its oneDNN primitives.
    public var operatorEncoder = false

    public init(model: CaptionModel, taxonomy: Taxonomy = .standard) {
        self.model = model
        grounding = Grounding(taxonomy: taxonomy)
        banned = model.bannedTokenIDs(grounding: grounding)
        model.store.eval()
    }

    /// Loads a model file written by the trainer (weights + `<file>.json` config).
    public convenience init(contentsOf url: URL) throws {
        let config = try Checkpoint.loadConfig(CaptionerConfig.self, for: url)
        let model = try CaptionModel(config: config)
        try model.store.load(Checkpoint.load(from: url))
        self.init(model: model)
    }

    /// Any decoded photo → the encoder's input (3, S, S): padded to a white square, resized (antialiased),
    /// scaled as the encoder expects.
    public static func preprocess(_ image: RGBImage, size: Int) throws -> Tensor {
        try preprocess(image.tensor(), size: size)
    }

    public static func preprocess(_ image: Tensor, size: Int) throws -> Tensor {
        let square = try Transforms.padToSquare(image)
        return try EfficientNetLite.normalize(Transforms.resize(square, height: size, width: size))
    }

    public func describe(_ image: RGBImage, options: DecodingOptions = .init()) throws -> Draft {
        try describe([image], options: options)
    }

    /// Several photos of one product: the attribute heads' probabilities are averaged over the photos
    /// (more evidence for every claim); the text is decoded from the first, the primary photo.
    public func describe(_ images: [RGBImage], options: DecodingOptions = .init()) throws -> Draft {
        try describe(batch: [images], options: options)[0].get()
    }

    /// Photos through the encoder at most this many at a time (activation memory).
    public static let encoderBatch = 16

    /// Drafts for several products at once, each as `describe(_:)` makes it alone: every photo of every
    /// product goes through the encoder in batches, the attribute heads see them all, and one beam search
    /// steps the primary photos' beams together (`CaptionModel.search(memories:)`). A product whose
    /// photos cannot be prepared fails alone; a failure of the shared work fails them all.
    public func describe(batch products: [[RGBImage]], options: DecodingOptions = .init()) -> [Result<Draft, any Error>] {
        var results = [Result<Draft, any Error>?](repeating: nil, count: products.count)
        var inputs: [Tensor] = [], photosOf: [(product: Int, photos: Range<Int>)] = []
        for (p, photos) in products.enumerated() {
            precondition(!photos.isEmpty, "describe needs at least one photo")
            do {
                let prepared = try photos.map { try Self.preprocess($0, size: model.config.imageSize) }  // (3, S, S) each
                photosOf.append((p, inputs.count ..< inputs.count + prepared.count))
                inputs += prepared
            } catch {
                results[p] = .failure(error)
            }
        }
        do {
            try withNoGrad {
                guard !inputs.isEmpty else { return }
                var grids: [Tensor] = [], pooled: [Tensor] = []
                for start in stride(from: 0, to: inputs.count, by: Self.encoderBatch) {
                    let f = try encode(Tensor.stack(Array(inputs[start ..< min(start + Self.encoderBatch, inputs.count)])))
                    grids.append(f.grid)
                    pooled.append(f.pooled)
                }
                let features = ImageFeatures(grid: grids.count == 1 ? grids[0] : try Tensor.cat(grids, dim: 0),
                                             pooled: pooled.count == 1 ? pooled[0] : try Tensor.cat(pooled, dim: 0))
                let probabilities = try model.probabilities(model.attributeLogits(features))  // per photo
                let primaries = try Tensor(photosOf.map { Int64($0.photos.lowerBound) }, shape: [photosOf.count])
                let texts = try search(memories: model.memory(features.grid.indexSelect(dim: 0, index: primaries)), options: options)
                for (k, product) in photosOf.enumerated() {
                    let mine = Array(probabilities[product.photos])
                    results[product.product] = .success(compose(ids: texts[k], probabilities: mine.count == 1 ? mine[0] : .mean(mine)))
                }
            }
        } catch {
            for p in results.indices where results[p] == nil { results[p] = .failure(error) }
        }
        return results.map { $0! }
    }

    /// Beam searches over the images' memory (G, M, d) with the packed decoder, packing it on first use.
    func search(memories: Tensor, options: DecodingOptions) throws -> [[Int]] {
        var weights: FusedDecoderWeights?
        if options.fused {
            if packedDecoder == nil { packedDecoder = try model.fusedDecoderWeights() }
            weights = packedDecoder
        }
        return try model.search(memories: memories, options: options, banned: banned, weights: weights)
    }

    /// One photo through preprocessing and the encoder (no gradients).
    public func features(of image: RGBImage) throws -> ImageFeatures {
        try encode(Self.preprocess(image, size: model.config.imageSize).unsqueeze(0))
    }

    /// Preprocessed photos (N, 3, S, S) through the folded encoder (`FoldedEncoder`).
    public func encode(_ input: Tensor) throws -> ImageFeatures {
        if foldedEncoder == nil { foldedEncoder = try FoldedEncoder(model.encoder) }
        let (grid, pooled) = try operatorEncoder ? foldedEncoder!.encodeWithOperators(input) : foldedEncoder!.encode(input)
        return ImageFeatures(grid: grid, pooled: try model.withColourStatistics(pooled, of: input))
    }

    /// A draft from one image's features.
    public func draft(features: ImageFeatures, options: DecodingOptions) throws -> Draft {
        try draftAndProbabilities(features: features, options: options).draft
    }

    /// The draft and the calibrated probabilities it was grounded on (evaluation scores both).
    func draftAndProbabilities(features: ImageFeatures, options: DecodingOptions) throws -> (draft: Draft, probabilities: AttributeProbabilities) {
        try withNoGrad {
            let probabilities = try model.probabilities(model.attributeLogits(features))[0]
            let ids = try search(memories: model.memory(features.grid), options: options)[0]
            return (compose(ids: ids, probabilities: probabilities), probabilities)
        }
    }

    /// Slot filling and the review list.
    public func compose(ids: [Int], probabilities p: AttributeProbabilities) -> Draft {
        let thresholds = model.config.thresholds
        let (titleTokens, descriptionTokens) = model.config.vocabulary.decodeParts(ids)
        let title = grounding.fill(titleTokens, with: p, thresholds: thresholds, titleCase: true)
        let description = grounding.fill(descriptionTokens, with: p, thresholds: thresholds, titleCase: false)
        var review = title.unsupported.union(description.unsupported)
        func claim(_ field: String) -> Claim {
            let (value, confidence) = p.top(field) ?? ("unknown", 0)
            if confidence < thresholds.threshold(field) { review.insert(field) }
            return Claim(value: value, confidence: confidence)
        }
        let category = claim("category"), metal = claim("metal"), style = claim("style"), finish = claim("finish")
        // Gemstones: every value the head believes more likely than not, else the likeliest one
        // (`gemstoneSet`). A listed value below the claim threshold, any value in the uncertain band
        // (neither clearly present nor clearly absent), or "no stones" against a stone sends the field
        // to review.
        let t = thresholds.gemstone
        let (set, conflict) = p.gemstoneSet(exclusive: grounding.taxonomy.gemstone.exclusive)
        let gems = set.map { Claim(value: $0.value, confidence: $0.confidence) }
        if conflict || gems.isEmpty || gems.contains(where: { $0.confidence < t })
            || p.gemstones.values.contains(where: { $0 > 1 - t && $0 < t }) { review.insert("gemstones") }
        let order = ["category", "metal", "gemstones", "style", "finish"]
        return Draft(title: title.text, description: description.text, category: category,
                     attributes: .init(metal: metal, gemstones: gems, style: style, finish: finish),
                     needsReview: order.filter(review.contains), model: model.config.version)
    }
}
