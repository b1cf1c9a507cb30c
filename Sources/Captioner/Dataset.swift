import Catalog
import Foundation
import Imaging
import Torch

/// Where photos come from: the object store in production, anything in tests.
public protocol PhotoSource: Sendable {
    func photo(_ key: ObjectKey) throws -> RGBImage
}

/// Photos of a `DirectoryObjectStore`, read synchronously (the trainer runs off the event loop).
public struct DirectoryPhotoSource: PhotoSource {
    public let store: DirectoryObjectStore
    public init(store: DirectoryObjectStore) { self.store = store }
    public func photo(_ key: ObjectKey) throws -> RGBImage { try RGBImage(contentsOf: store.url(for: key)) }
}

/// Examples turned into tensors the model trains on: token sequences per reference, attribute targets,
/// and (in frozen mode) cached encoder features for several augmented views of each photo.
public final class CaptionDataset {
    public let examples: [CaptionExample]
    /// Token ids per example, one sequence per reference description.
    public let sequences: [[[Int]]]
    let config: CaptionerConfig

    public init(examples: [CaptionExample], config: CaptionerConfig, grounding: Grounding) {
        self.examples = examples
        self.config = config
        sequences = examples.map { example in
            // A labels-only example (a synthetic image) has no text: `<bos>` alone, so no caption loss.
            guard !example.descriptions.isEmpty else { return [[config.vocabulary.bosID]] }
            let title = grounding.delexicalize(example.title)
            return example.descriptions.map { description in
                let ids = config.vocabulary.encode(title: title, description: grounding.delexicalize(description))
                // Over-long texts keep their start and still end with <eos>.
                return ids.count <= config.maxLength ? ids : Array(ids.prefix(config.maxLength - 1)) + [config.vocabulary.eosID]
            }
        }
    }

    /// The delexicalised training texts a vocabulary is built from.
    public static func vocabularyTexts(_ examples: [CaptionExample], grounding: Grounding) -> [String] {
        examples.flatMap { [grounding.delexicalize($0.title)] + $0.descriptions.map(grounding.delexicalize) }
    }

    /// (B, T) padded token ids for the chosen reference of each example.
    func tokens(_ picks: [(example: Int, reference: Int)]) throws -> Tensor {
        let rows = picks.map { sequences[$0.example][$0.reference] }
        let t = rows.map(\.count).max() ?? 1
        let flat = rows.flatMap { $0.map(Int64.init) + [Int64](repeating: Int64(config.vocabulary.padID), count: t - $0.count) }
        return try Tensor(flat, shape: [rows.count, t])
    }

    /// The class index of a field an example is not labelled with (cross-entropy's ignore index).
    public static let unlabelled = -100

    /// Attribute targets for a batch: class indices for single fields, multi-hot for gemstones. A field
    /// left empty (a synthetic image's style, finish and stones) is unlabelled: `unlabelled`, or a row of −1.
    func attributeTargets(_ indices: [Int]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for field in config.fields {
            if field.multiple {
                var hot = [Float](repeating: 0, count: indices.count * field.values.count)
                for (row, i) in indices.enumerated() {
                    if examples[i].attributes.gemstones.isEmpty {
                        for k in 0 ..< field.values.count { hot[row * field.values.count + k] = -1 }
                    }
                    for gem in examples[i].attributes.gemstones {
                        if let k = field.values.firstIndex(of: gem) { hot[row * field.values.count + k] = 1 }
                    }
                }
                out[field.name] = try Tensor(hot, shape: [indices.count, field.values.count])
            } else {
                let labels = indices.map { i -> Int64 in
                    // Empty, or (never for validated products) a value the taxonomy lacks: nothing to learn.
                    Int64(field.values.firstIndex(of: examples[i].attributes.value(field.name)) ?? Self.unlabelled)
                }
                out[field.name] = try Tensor(labels, shape: [indices.count])
            }
        }
        return out
    }
}

/// Encoder features for every example: `views` augmented views each (training) or one plain view.
/// Stored as float16 (N·views, C, g, g); cached on disk by content so folds, sweeps and resumed runs
/// share them.
public final class FeatureCache {
    public let grid: Tensor    // (N·views, C, g, g) float16
    public let pooled: Tensor  // (N·views, P) float16
    public let views: Int

    public init(grid: Tensor, pooled: Tensor, views: Int) { (self.grid, self.pooled, self.views) = (grid, pooled, views) }

    /// Features of example `i`, view `v`, as float32 (1, …).
    func view(_ i: Int, _ v: Int) throws -> ImageFeatures {
        ImageFeatures(grid: try grid.slice(dim: 0, i * views + v ..< i * views + v + 1).to(.float32),
                      pooled: try pooled.slice(dim: 0, i * views + v ..< i * views + v + 1).to(.float32))
    }

    func batch(_ picks: [(example: Int, view: Int)]) throws -> ImageFeatures {
        let rows = try Tensor(picks.map { Int64($0.example * views + $0.view) }, shape: [picks.count])
        return ImageFeatures(grid: try grid.indexSelect(dim: 0, index: rows).to(.float32),
                             pooled: try pooled.indexSelect(dim: 0, index: rows).to(.float32))
    }

    /// Computes (or loads) the features. `augment` nil means one plain view per example.
    public static func build(examples: [CaptionExample], photos: any PhotoSource, model: CaptionModel, views: Int,
                             augmenter: Augmenter?, seed: UInt64, cacheDirectory: URL?, label: String,
                             progress: (String, Int, Int) -> Void) throws -> FeatureCache {
        let key = cacheKey(examples: examples, views: views, augmenter: augmenter, seed: seed, config: model.config)
        let file = cacheDirectory?.appendingPathComponent("features-\(key).pt")
        if let file, FileManager.default.fileExists(atPath: file.path), let saved = try? Checkpoint.load(from: file),
           let grid = saved.first(where: { $0.name == "grid" })?.tensor, let pooled = saved.first(where: { $0.name == "pooled" })?.tensor,
           grid.shape.first == examples.count * views, pooled.shape.first == examples.count * views {
            return FeatureCache(grid: grid, pooled: pooled, views: views)
        }
        var rng = SplitMix64(seed: seed)
        var chunks: [Tensor] = [], pooledChunks: [Tensor] = []
        let size = model.config.imageSize
        let total = examples.count * views
        var pending: [Tensor] = []
        // The folded encoder on oneDNN (`FoldedEncoder`): the same function as `model.encoder`, as the
        // service and `describe` run it, for the encoder's weights now.
        let encoder = try FoldedEncoder(model.encoder)
        func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = try Tensor.stack(pending)
            let encoded = try withNoGrad {
                let (grid, pooled) = try encoder.encode(batch)
                return ImageFeatures(grid: grid, pooled: try model.withColourStatistics(pooled, of: batch))
            }
            chunks.append(try encoded.grid.to(.float16))
            pooledChunks.append(try encoded.pooled.to(.float16))
            pending.removeAll()
        }
        for (i, example) in examples.enumerated() {
            for v in 0 ..< views {
                let photo = try photos.photo(example.images[v % example.images.count]).tensor()
                let square = try Transforms.padToSquare(photo)
                // View 0 is always the plain photo, so every example keeps its clean view.
                let x = if let augmenter, v > 0 { try augmenter(square, using: &rng) }
                        else { try Transforms.resize(square, height: size, width: size) }
                pending.append(try EfficientNetLite.normalize(x))
                if pending.count == 16 { try flush() }
                progress(label, i * views + v + 1, total)
            }
        }
        try flush()
        let grid = try Tensor.cat(chunks), pooled = try Tensor.cat(pooledChunks)
        if let file {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Checkpoint.save([(name: "grid", tensor: grid), (name: "pooled", tensor: pooled)], to: file)
        }
        return FeatureCache(grid: grid, pooled: pooled, views: views)
    }

    static func cacheKey(examples: [CaptionExample], views: Int, augmenter: Augmenter?, seed: UInt64, config: CaptionerConfig) -> String {
        var text = "v2|\(views)|\(seed)|\(config.imageSize)|\(config.encoderMode.rawValue)|"
        // Features with colour statistics appended are another cache (old keys stay valid for old models).
        if config.usesColourStatistics { text += "colour\(Functional.colourStatisticsWidth)|" }
        // Sorted keys: without them the key order, and so the cache key, changes from process to process.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let augmenter, let json = try? encoder.encode(augmenter.config) { text += String(decoding: json, as: UTF8.self) }
        for e in examples { text += "|" + e.images.map(\.hex).joined(separator: ",") }
        return String(sha256Hex(Data(text.utf8)).prefix(24))
    }
}

public struct SyntheticImagesError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// Generated images as labels-only training examples: a directory written by `loupe gan sample`, whose
/// `samples.tsv` names each PNG and the labels it was drawn for (a header `file`, then any of category,
/// metal, style, finish). The examples carry those labels and nothing else — no text, no stones — so they
/// teach the attribute heads they are labelled for and add no caption loss. Also the photo source for
/// them, in front of the real photos. They stay outside the database: a synthetic image never becomes a
/// product photo.
public struct SyntheticPhotoSource: PhotoSource {
    public let examples: [CaptionExample]
    let files: [ObjectKey: URL]
    let base: any PhotoSource

    public static let manifestName = "samples.tsv"
    static let fields = ["category", "metal", "style", "finish"]

    public init(directory: URL, base: any PhotoSource, taxonomy: Taxonomy = .standard) throws {
        self.base = base
        let manifest = directory.appendingPathComponent(Self.manifestName)
        guard let text = try? String(contentsOf: manifest, encoding: .utf8) else {
            throw SyntheticImagesError(description: "\(manifest.path) is missing: write the images with `loupe gan sample`")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header.first == "file", header.count >= 2 else {
            throw SyntheticImagesError(description: "\(manifest.path): the header is `file` then the label columns")
        }
        let columns = Array(header.dropFirst())
        for name in columns where !Self.fields.contains(name) {
            throw SyntheticImagesError(description: "\(manifest.path): unknown column '\(name)' (one of \(Self.fields.joined(separator: ", ")))")
        }
        var examples: [CaptionExample] = [], files: [ObjectKey: URL] = [:]
        for (number, row) in lines.dropFirst().enumerated() {
            let place = "\(manifest.path) line \(number + 2)"
            guard row.count == header.count else { throw SyntheticImagesError(description: "\(place): \(row.count) columns, the header has \(header.count)") }
            var labels: [String: String] = [:]
            for (name, value) in zip(columns, row.dropFirst()) {
                guard taxonomy[name]?.contains(value) == true else {
                    throw SyntheticImagesError(description: "\(place): unknown \(name) '\(value)'")
                }
                labels[name] = value
            }
            let url = directory.appendingPathComponent(row[0])
            guard row[0].hasSuffix(".png"), !row[0].contains("/"), let data = FileManager.default.contents(atPath: url.path) else {
                throw SyntheticImagesError(description: "\(place): no PNG file '\(row[0])' in \(directory.path)")
            }
            _ = try RGBImage(decoding: data)  // a bad image fails here, before any training
            let key = ObjectKey(digestOf: data)
            files[key] = url
            let attributes = Attributes(category: labels["category"] ?? "", metal: labels["metal"] ?? "", gemstones: [],
                                        style: labels["style"] ?? "", finish: labels["finish"] ?? "")
            examples.append(CaptionExample(productID: -Int64(number + 1), externalID: "synthetic:\(row[0])", split: .train, attributes: attributes,
                                           title: "", descriptions: [], images: [key]))
        }
        guard !examples.isEmpty else { throw SyntheticImagesError(description: "\(manifest.path) lists no images") }
        (self.examples, self.files) = (examples, files)
    }

    public func photo(_ key: ObjectKey) throws -> RGBImage {
        if let url = files[key] { return try RGBImage(contentsOf: url) }
        return try base.photo(key)
    }
}
