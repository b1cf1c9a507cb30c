import Captioner
import Catalog
import Foundation
import Imaging
import Logging
import PostgresNIO
import Store
import Torch

/// A small catalogue a tiny captioner learns in seconds: each photo is a disc whose colour is the metal
/// and whose size is the category. Its rose-gold pieces can be imported as yellow gold in the training
/// split (`mislabelRoseGold`) — the systematic error the retraining loop must fix — while validation and
/// the held-out test split keep every true label. (With the validation split mislabelled too, the
/// retrained model's calibration learns to doubt its now-right rose-gold answers and withholds the
/// metal from its text: a real effect, measured in README, but too noisy for a 12-product test split.)
public enum SyntheticCatalogue {
    public static let colours: [String: (UInt8, UInt8, UInt8)] = [
        "yellow-gold": (212, 175, 55), "sterling-silver": (150, 150, 160), "rose-gold": (200, 120, 110)]
    public static let radii: [String: Double] = ["ring": 18, "bangle": 40]

    /// A disc photo (PNG bytes) of `metal` and `category`; `variant` changes its size and tint a little.
    public static func photo(metal: String, category: String, variant: Int, size: Int = 96) throws -> Data {
        let (r, g, b) = colours[metal]!
        let radius = radii[category]! + Double(variant % 5) - 2
        let tint = Int(variant % 3) * 4 - 4
        var pixels = [UInt8](repeating: 255, count: size * size * 3)
        let c = Double(size) / 2
        for y in 0 ..< size {
            for x in 0 ..< size where ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)).squareRoot() < radius {
                let i = (y * size + x) * 3
                pixels[i] = UInt8(clamping: Int(r) + tint); pixels[i + 1] = UInt8(clamping: Int(g) + tint); pixels[i + 2] = UInt8(clamping: Int(b) + tint)
            }
        }
        let image = RGBImage(width: size, height: size, pixels: pixels,
                             info: ImageInfo(format: .png, width: size, height: size, orientation: 1, bitDepth: 8, progressive: false))
        return try ImageEncoder.png(image.byteTensor())
    }

    public static func label(_ metal: String) -> String { Taxonomy.standard.metal.label(metal)! }

    public static func descriptions(metal: String, category: String) -> [String] {
        ["A \(category) crafted in \(label(metal)).", "This \(label(metal)) \(category) is simple and polished."]
    }

    /// Writes the catalogue directory (catalogue.jsonl + images): per metal and category, `train`
    /// training, one validation and `test` held-out products (external ids chosen by their split).
    public static func write(to directory: URL, artisan: String, train: Int = 4, test: Int = 2, mislabelRoseGold: Bool) throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("images"), withIntermediateDirectories: true)
        var lines: [String] = []
        for metal in colours.keys.sorted() {
            for category in radii.keys.sorted() {
                var want: [DatasetSplit: Int] = [.train: train, .validation: 1, .test: test]
                var k = 0
                while want.values.contains(where: { $0 > 0 }) {
                    let id = "syn-\(metal)-\(category)-\(k)"
                    k += 1
                    let split = DatasetSplit.of(externalID: id)
                    guard let left = want[split], left > 0 else { continue }
                    want[split] = left - 1
                    try photo(metal: metal, category: category, variant: k).write(to: directory.appendingPathComponent("images/\(id).png"))
                    let labelled = mislabelRoseGold && metal == "rose-gold" && split == .train ? "yellow-gold" : metal
                    let record: [String: Any] = [
                        "external_id": id, "artisan": artisan, "title": "\(label(labelled).capitalized) \(category.capitalized)",
                        "attributes": ["category": category, "metal": labelled, "gemstones": ["none"], "style": "classic", "finish": "polished"],
                        "descriptions": descriptions(metal: labelled, category: category), "images": ["images/\(id).png"]]
                    lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self))
                }
            }
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("catalogue.jsonl"))
    }

    /// Writes and imports the catalogue into `db` and the object store at `objects`.
    public static func load(into db: TestDatabase, objects: URL, artisan: String, mislabelRoseGold: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-synthetic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try write(to: directory, artisan: artisan, mislabelRoseGold: mislabelRoseGold)
        let importer = CatalogImporter(store: try DirectoryObjectStore(root: objects))
        let report = try await db.configuration.withConnection(logger: testLogger) {
            try await importer.importDirectory(directory, connection: $0, logger: testLogger)
        }
        precondition(report.failures.isEmpty, "synthetic catalogue import failed: \(report.failures)")
    }

    /// Tiny training options (64-px images, one decoder block) that learn the discs in seconds.
    public static var options: TrainingOptions {
        var o = TrainingOptions()
        (o.epochs, o.batchSize, o.learningRate, o.warmupSteps, o.views, o.width, o.layers, o.dropout, o.imageSize, o.patience, o.labelSmoothing) =
            (40, 8, 3e-3, 5, 2, 64, 1, 0, 64, 100, 0)
        return o
    }

    /// The EfficientNet-Lite0 weights scripts/fetch-models.sh unpacks (`make test` runs it).
    public static var pretrainedEncoder: URL {
        repositoryRoot.appendingPathComponent(".cache/models/efficientnet-lite0/\(EfficientNetLite.weightsFile)")
    }

    /// Trains a tiny captioner on the catalogue in `db` and registers it as the active model; returns
    /// (registry id, version, file).
    public static func trainActiveModel(db: TestDatabase, objects: URL, directory: URL) async throws -> (id: Int64, version: String, file: URL) {
        let examples = try await db.configuration.withConnection(logger: testLogger) {
            try await TrainingDataRepository().examples(splits: [.train, .validation], on: $0, logger: testLogger)
        }
        LibTorch.manualSeed(3)
        let result = try CaptionTrainer(options: options, train: examples.filter { $0.split == .train }, validation: examples.filter { $0.split == .validation },
                                        photos: DirectoryPhotoSource(store: try DirectoryObjectStore(root: objects)), pretrainedEncoder: pretrainedEncoder,
                                        runDirectory: directory.appendingPathComponent("run-v1"), cacheDirectory: nil,
                                        log: { _ in }, progress: { _, _, _ in }).run(resume: false)
        let file = directory.appendingPathComponent("\(result.config.version).pt")
        try FileManager.default.copyItem(at: Checkpoint.configURL(for: result.modelFile), to: Checkpoint.configURL(for: file))
        try FileManager.default.copyItem(at: result.modelFile, to: file)
        let config = String(decoding: try Data(contentsOf: Checkpoint.configURL(for: file)), as: UTF8.self)
        let id = try await db.configuration.withConnection(logger: testLogger) {
            try await ModelRegistry().register(kind: "captioner", version: result.config.version, path: file.path, sha256: sha256Hex(try Data(contentsOf: file)),
                                               configJSON: config, metricsJSON: "{}", snapshotJSON: "{}",
                                               products: examples.map { (id: $0.productID, split: $0.split.rawValue) }, activate: true,
                                               on: $0, logger: testLogger)
        }
        return (id, result.config.version, file)
    }
}
