@testable import Captioner
import Catalog
import Foundation
import Imaging
import Testing
import Torch

/// End to end on synthetic photos: the trainer learns metal from colour and category from size, writes
/// its checkpoints, plots and state, resumes, and the drafts it makes are grounded.
@Suite(.serialized) struct TrainingTests {
    static let colours: [String: (UInt8, UInt8, UInt8)] = ["yellow-gold": (212, 175, 55), "sterling-silver": (150, 150, 160),
                                                          "rose-gold": (200, 120, 110)]
    static let radii: [String: Double] = ["ring": 18, "bangle": 40]

    static func examples() -> ([CaptionExample], SyntheticPhotos) {
        var examples: [CaptionExample] = [], images: [ObjectKey: RGBImage] = [:]
        var n: Int64 = 0
        for (metal, colour) in colours.sorted(by: { $0.key < $1.key }) {
            for (category, radius) in radii.sorted(by: { $0.key < $1.key }) {
                for copy in 0 ..< 3 {
                    n += 1
                    let key = ObjectKey(digestOf: Data("\(metal)-\(category)-\(copy)".utf8))
                    images[key] = syntheticPhoto(color: colour, radius: radius + Double(copy))
                    let metalLabel = Taxonomy.standard.metal.label(metal)!
                    let attributes = Attributes(category: category, metal: metal, gemstones: ["none"], style: "classic", finish: "polished")
                    examples.append(CaptionExample(
                        productID: n, externalID: "t-\(n)", split: copy == 2 ? .validation : .train, attributes: attributes,
                        title: "\(metalLabel.capitalized) \(category.capitalized)",
                        descriptions: ["A \(category) crafted in \(metalLabel).", "This \(metalLabel) \(category) is ideal for weddings."],
                        images: [key]))
                }
            }
        }
        return (examples, SyntheticPhotos(images: images))
    }

    func options(epochs: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.epochs = epochs
        o.batchSize = 8
        o.learningRate = 3e-3
        o.warmupSteps = 5
        o.views = 2
        o.width = 64
        o.layers = 1
        o.dropout = 0
        o.imageSize = 64
        o.patience = 100
        o.labelSmoothing = 0
        return o
    }

    @Test func learnsGroundedDraftsAndResumes() throws {
        let (examples, photos) = Self.examples()
        let train = examples.filter { $0.split == .train }, validation = examples.filter { $0.split == .validation }
        let run = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        var logs: [String] = []
        func trainer(_ epochs: Int) -> CaptionTrainer {
            CaptionTrainer(options: options(epochs: epochs), train: train, validation: validation, photos: photos,
                           pretrainedEncoder: liteWeights, runDirectory: run, cacheDirectory: run.appendingPathComponent("cache"),
                           log: { logs.append($0) }, progress: { _, _, _ in })
        }
        _ = try trainer(3).run(resume: false)
        // A resumed run with the same options continues from epoch 3 instead of starting over.
        _ = try? trainer(3).run(resume: true)
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: run.appendingPathComponent("state.json")))
        #expect(state.epoch == 3)
        // A new model reads the photos' colour statistics, standardised over every cached training view.
        #expect(state.config.colourFields == ["metal", "gemstone", "style", "finish"])
        let pooledWidth = try CaptionModel(config: state.config).encoder.pooledWidth
        let weights = Dictionary(uniqueKeysWithValues: try Checkpoint.load(from: run.appendingPathComponent("last.pt")).map { ($0.name, $0.tensor) })
        let cached = try FileManager.default.contentsOfDirectory(at: run.appendingPathComponent("cache"), includingPropertiesForKeys: nil)
            .compactMap { try Checkpoint.load(from: $0).first { $0.name == "pooled" }?.tensor }
        let trainViews = try #require(cached.first { $0.shape[0] == train.count * 2 })
        let colour = try trainViews.slice(dim: 1, pooledWidth ..< trainViews.shape[1]).to(.float32)
        #expect(colour.shape[1] == Functional.colourStatisticsWidth)
        #expect(try (weights["heads.colour_mean"]! - colour.mean(dims: [0])).abs().max().item() < 1e-4)
        #expect(try (weights["heads.colour_std"]! - colour.std(dims: [0]).clamp(min: 1e-2)).abs().max().item() < 1e-4)
        var longer = options(epochs: 60)
        longer.seed = 0
        let result = try CaptionTrainer(options: longer, train: train, validation: validation, photos: photos, pretrainedEncoder: liteWeights,
                                        runDirectory: run.appendingPathComponent("long"), cacheDirectory: run.appendingPathComponent("cache"),
                                        log: { logs.append($0) }, progress: { _, _, _ in }).run(resume: false)
        for file in ["loss.png", "metrics.png", "best.pt", "last.pt", "optimizer.pt", "state.json", "model.pt", "model.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("long/\(file)").path), "\(file)")
        }
        #expect(try RGBImage(contentsOf: run.appendingPathComponent("long/loss.png")).width == 640)
        let first = result.history.first!, last = result.history.last!
        #expect(last.trainLoss < first.trainLoss * 0.5, "loss \(first.trainLoss) → \(last.trainLoss)")
        #expect(result.validation.accuracy["metal"]! == 1, "metal accuracy \(result.validation.accuracy)")
        #expect(result.validation.accuracy["category"]! == 1)
        #expect(result.validation.groundingViolations == 0)
        #expect(result.validation.bleu4 > 0.5, "BLEU-4 \(result.validation.bleu4)")
        // The decoder is kept from the epoch with the best text, the heads from the best attributes.
        func firstBest(_ score: (EvaluationReport) -> Double) -> Int {
            result.history.first { score($0.validation) == result.history.map { score($0.validation) }.max()! }!.epoch
        }
        #expect(result.bestEpochs == ["text": firstBest { $0.bleu4 + $0.rougeL }, "attributes": firstBest(\.meanAccuracy)])

        // The saved model file drafts from a photo it never saw, naming only supported claims.
        let drafter = try Drafter(contentsOf: result.modelFile)
        // A bigger photo (300 px) of a bangle: the radius scales with the frame.
        let photo = syntheticPhoto(color: Self.colours["rose-gold"]!, radius: 39 * 300 / 96, size: 300)
        let draft = try drafter.describe(photo)
        #expect(draft.category.value == "bangle")
        #expect(draft.attributes.metal.value == "rose-gold")
        #expect(draft.model == result.config.version)
        let p = try withNoGrad { try drafter.model.probabilities(drafter.model.attributeLogits(drafter.features(of: photo)))[0] }
        #expect(drafter.grounding.violations(in: draft.title + " " + draft.description, probabilities: p, thresholds: drafter.model.config.thresholds).isEmpty)
        if draft.needsReview.contains("metal") {
            #expect(!draft.description.lowercased().contains("gold"))
        } else {
            #expect(draft.description.contains("rose gold"), "\(draft.description)")
        }
    }

    /// A trained encoder has no feature cache: the colour statistics are standardised over the plain
    /// training photos (padded to a square and resized, not augmented).
    @Test func aTrainedEncoderStandardisesColourOverThePlainPhotos() throws {
        let (examples, photos) = Self.examples()
        let train = examples.filter { $0.split == .train }, validation = examples.filter { $0.split == .validation }
        let run = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        var o = options(epochs: 1)
        o.encoderMode = .finetune
        _ = try CaptionTrainer(options: o, train: train, validation: validation, photos: photos, pretrainedEncoder: liteWeights,
                               runDirectory: run, cacheDirectory: nil, log: { _ in }, progress: { _, _, _ in }).run(resume: false)
        let weights = Dictionary(uniqueKeysWithValues: try Checkpoint.load(from: run.appendingPathComponent("last.pt")).map { ($0.name, $0.tensor) })
        let plain = try Tensor.stack(train.map {
            try Transforms.resize(Transforms.padToSquare(photos.photo($0.images[0]).tensor()), height: o.imageSize, width: o.imageSize)
        })
        let expected = try Functional.colourStatistics(plain)
        // The encoder is shared by the text and the heads: the model is kept whole.
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: run.appendingPathComponent("state.json")))
        #expect(state.selection.best.map(\.part) == [.whole])
        #expect(try (weights["heads.colour_mean"]! - expected.mean(dims: [0])).abs().max().item() < 1e-4)
        #expect(try (weights["heads.colour_std"]! - expected.std(dims: [0]).clamp(min: 1e-2)).abs().max().item() < 1e-4)
    }

    @Test func temperatureScalingRecoversAnOverconfidentScale() throws {
        // Logits drawn from a calibrated model, then multiplied by 3: the fitted temperature should be ≈ 3.
        LibTorch.manualSeed(5)
        let n = 4000, k = 5
        let logits = try Tensor.randn([n, k]) * 2.0
        let targets = try logits.softmax(dim: 1).multinomial(samples: 1, replacement: true).reshape(n)
        let t = try Calibration.bestTemperature(logits: logits * 3.0, targets: targets, multiple: false)
        #expect(abs(t - 3) < 0.35, "fitted temperature \(t)")
    }
}
