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

    /// One product's photos made ready for the encoder: the per-photo work (`preprocess` and the colour
    /// statistics), which the service does in the request's handler, in parallel with other requests,
    /// rather than in the serial batch. For a model with this input side and colour-statistics setting;
    /// `describe(prepared:)` prepares again for another.
    public struct PreparedPhotos: @unchecked Sendable {  // handed from a request handler to the inference queue, then only read
        public let images: [RGBImage]
        let size: Int
        let input: Tensor        // (k, 3, S, S)
        let statistics: Tensor?  // (k, colour statistics), when the model uses them
    }

    public static func prepare(_ images: [RGBImage], size: Int, colourStatistics: Bool) throws -> PreparedPhotos {
        precondition(!images.isEmpty, "describe needs at least one photo")
        return try withNoGrad {
            let input = try Tensor.stack(images.map { try preprocess($0, size: size) })
            return PreparedPhotos(images: images, size: size, input: input,
                                  statistics: colourStatistics ? try CaptionModel.colourStatistics(of: input) : nil)
        }
    }

    /// `prepare` for this drafter's model.
    public func prepare(_ images: [RGBImage]) throws -> PreparedPhotos {
        try Self.prepare(images, size: model.config.imageSize, colourStatistics: model.config.usesColourStatistics)
    }

    /// Drafts for several products at once, each as `describe(_:)` makes it alone: every photo of every
    /// product goes through the encoder in batches, the attribute heads see them all, and one beam search
    /// steps the primary photos' beams together (`CaptionModel.search(memories:)`). A product whose
    /// photos cannot be prepared fails alone; a failure of the shared work fails them all.
    public func describe(batch products: [[RGBImage]], options: DecodingOptions = .init()) -> [Result<Draft, any Error>] {
        describe(prepared: products.map { photos in Result { try prepare(photos) } }, options: options)
    }

    /// `describe(batch:)` for photos already prepared (`prepare`); those prepared for another model's
    /// input are prepared again.
    public func describe(prepared products: [Result<PreparedPhotos, any Error>], options: DecodingOptions = .init()) -> [Result<Draft, any Error>] {
        var results = [Result<Draft, any Error>?](repeating: nil, count: products.count)
        var ready: [(product: Int, photos: PreparedPhotos)] = []
        for (p, product) in products.enumerated() {
            do {
                var photos = try product.get()
                if photos.size != model.config.imageSize || (photos.statistics != nil) != model.config.usesColourStatistics {
                    photos = try prepare(photos.images)
                }
                ready.append((p, photos))
            } catch {
                results[p] = .failure(error)
            }
        }
        do {
            try withNoGrad {
                guard !ready.isEmpty else { return }
                var photosOf: [Range<Int>] = [], count = 0
                for (_, photos) in ready {
                    photosOf.append(count ..< count + photos.images.count)
                    count += photos.images.count
                }
                let inputs = ready.count == 1 ? ready[0].photos.input : try Tensor.cat(ready.map(\.photos.input), dim: 0)
                var grids: [Tensor] = [], pooled: [Tensor] = []
                for start in stride(from: 0, to: count, by: Self.encoderBatch) {
                    let f = try encoder(inputs.slice(dim: 0, start ..< min(start + Self.encoderBatch, count)))
                    grids.append(f.grid)
                    pooled.append(f.pooled)
                }
                var pooledAll = pooled.count == 1 ? pooled[0] : try Tensor.cat(pooled, dim: 0)
                if model.config.usesColourStatistics {
                    let statistics = ready.count == 1 ? ready[0].photos.statistics! : try Tensor.cat(ready.map { $0.photos.statistics! }, dim: 0)
                    pooledAll = try CaptionModel.withColourStatistics(pooledAll, statistics: statistics)
                }
                let features = ImageFeatures(grid: grids.count == 1 ? grids[0] : try Tensor.cat(grids, dim: 0), pooled: pooledAll)
                let probabilities = try model.probabilities(model.attributeLogits(features))  // per photo
                let primaries = try Tensor(photosOf.map { Int64($0.lowerBound) }, shape: [photosOf.count])
                let texts = try search(memories: model.memory(features.grid.indexSelect(dim: 0, index: primaries)), options: options)
                for (k, (product, _)) in ready.enumerated() {
                    let mine = Array(probabilities[photosOf[k]])
                    results[product] = .success(compose(ids: texts[k], probabilities: mine.count == 1 ? mine[0] : .mean(mine)))
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
        let (grid, pooled) = try encoder(input)
        return ImageFeatures(grid: grid, pooled: try model.withColourStatistics(pooled, of: input))
    }

    /// The folded encoder's grid and pooled vector, before colour statistics.
    func encoder(_ input: Tensor) throws -> (grid: Tensor, pooled: Tensor) {
        if foldedEncoder == nil { foldedEncoder = try FoldedEncoder(model.encoder) }
        return try operatorEncoder ? foldedEncoder!.encodeWithOperators(input) : foldedEncoder!.encode(input)
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
            if confidence < thresholds.threshold(field) || (field == "metal" && grounding.unnamed.contains(value)) { review.insert(field) }
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
        if conflict || gems.isEmpty || gems.contains(where: { $0.confidence < t || grounding.unnamed.contains($0.value) })
            || p.gemstones.values.contains(where: { $0 > 1 - t && $0 < t }) { review.insert("gemstones") }
        let order = ["category", "metal", "gemstones", "style", "finish"]
        return Draft(title: title.text, description: description.text, category: category,
                     attributes: .init(metal: metal, gemstones: gems, style: style, finish: finish),
                     needsReview: order.filter(review.contains), model: model.config.version)
    }
}
