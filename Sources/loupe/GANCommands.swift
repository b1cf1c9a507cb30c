import ArgumentParser
import Foundation
import Catalog
import Captioner
import Imaging
import Store
import Synthesis
import Torch

extension TrainCommand {
    struct GAN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gan",
            abstract: "Train a DCGAN: the seed recipe on Fashion-MNIST at 32×32, or conditional on the catalogue's category and metal at 64×64.")

        enum DataSet: String, ExpressibleByArgument { case fashionMnist = "fashion-mnist", catalogue }

        @Option(help: "Training data: fashion-mnist (Debian's dataset-fashion-mnist) or catalogue (the train and validation products in PostgreSQL, photos from the object store).")
        var data: DataSet = .fashionMnist
        @Option(help: "Conditional GAN on these fields, comma-separated: class (fashion-mnist); category, metal, style, finish (catalogue).")
        var condition: String?
        @Option(help: "Adversarial loss: bce (the seed) or hinge.") var loss: GANLoss = .bce
        @Option(help: "Average the generator's weights with this EMA decay, e.g. 0.999 (0: off).") var ema = 0.0
        @Flag(help: "Spectral normalisation in the discriminator (instead of its BatchNorm).") var spectralNorm = false
        @Flag(inversion: .prefixedNo,
              help: "DiffAugment (colour, translation, cutout) on every discriminator input (default: on for the catalogue, off for Fashion-MNIST).")
        var diffAugment: Bool?
        @Option var epochs = 25
        @Option var batchSize = 128
        @Option(name: .customLong("lr"), help: "Adam's learning rate (both networks unless --lr-d).") var learningRate = 2e-4
        @Option(name: .customLong("lr-d"), help: "The discriminator's own learning rate (two time-scale updates, e.g. --lr 2e-4 --lr-d 5e-5).")
        var discriminatorLearningRate: Double?
        @Option(help: "Feature maps of the generator's last block (default 64).") var gFeatures = 64
        @Option(help: "Feature maps of the discriminator's first block (default 64).") var dFeatures = 64
        @Option(help: "Use at most N training images (quick runs).") var limit: Int?
        @Option(help: "Catalogue: keep only the first KEEP products of CATEGORY (CATEGORY=KEEP, e.g. bracelet=10), to study a low-volume category.",
                transform: { try Thinning(parsing: $0) })
        var thin: Thinning?
        @Option(help: "Run directory: checkpoints, state, samples/, loss.png (default: .cache/runs/gan-<time>).") var run: String?
        @Flag(help: "Continue the run in --run from its last epoch.") var resume = false
        @Option(help: "Where to copy the trained generator (default: .cache/models/gan/<version>.pt).") var out: String?
        @Option(help: "Fashion-MNIST classifier for the mode-collapse monitor (trained and saved there if missing).")
        var classifier = ".cache/models/gan/fashion-classifier.pt"
        @Flag(inversion: .prefixedNo, help: "Watch generated samples' class histogram every epoch (Fashion-MNIST).") var monitor = true
        @Option(help: "FID every N epochs and at the end (0: never).") var fidEvery = 5
        @Option(help: "Images per FID (generated and real; the catalogue: at most its photo count).") var fidSamples = 2000
        @Option(help: "Object store directory (catalogue; default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard epochs >= 1, batchSize >= 2 else { throw ValidationError("--epochs ≥ 1 and --batch-size ≥ 2") }
            guard (0 ..< 1).contains(ema) else { throw ValidationError("--ema is a decay in [0, 1), e.g. 0.999") }
            let fields = condition.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
            guard Set(fields).count == fields.count else { throw ValidationError("--condition names a field twice") }
            let bar = LineProgress()
            let set: GANImageSet
            var config = DCGANConfig()
            switch data {
            case .fashionMnist:
                guard fields.isEmpty || fields == ["class"] else { throw ValidationError("Fashion-MNIST can be conditioned on class only") }
                guard thin == nil else { throw ValidationError("--thin applies to the catalogue") }
                set = try GANImageSet.fashionMNIST(FashionMNIST(split: .train, limit: limit), conditional: !fields.isEmpty)
            case .catalogue:
                let conditions: [GANCondition]
                do { conditions = try GANImageSet.conditions(fields: fields) } catch { throw ValidationError("\(error)") }
                set = try await loadCatalogueImages(database: database, objects: objects, conditions: conditions, limit: limit, thin: thin, bar: bar)
                (config.imageSize, config.channels) = (64, 3)
            }
            (config.conditions, config.spectralNorm) = (set.conditions, spectralNorm)
            guard gFeatures >= 8, dFeatures >= 8 else { throw ValidationError("--g-features and --d-features are at least 8") }
            (config.generatorFeatures, config.discriminatorFeatures) = (gFeatures, dFeatures)
            guard set.count >= batchSize else { throw ValidationError("\(set.count) images are fewer than one batch of \(batchSize)") }
            var options = GANTrainingOptions()
            (options.epochs, options.batchSize, options.learningRate, options.seed) = (epochs, batchSize, learningRate, runtime.seed)
            options.discriminatorLearningRate = discriminatorLearningRate
            (options.loss, options.ema, options.flip) = (loss, ema, data == .catalogue)
            options.diffAugment = diffAugment ?? (data == .catalogue)
            let runURL = URL(fileURLWithPath: run ?? ".cache/runs/gan-\(runTimestamp())")
            let conditioned = set.conditions.isEmpty ? "" : ", conditioned on " + set.conditions.map(\.name).joined(separator: " and ")
            print("training the DCGAN on \(set.count) \(data.rawValue) images (\(config.imageSize)×\(config.imageSize)\(conditioned); loss \(loss.rawValue)"
                  + (ema > 0 ? ", EMA \(ema)" : "") + (spectralNorm ? ", spectral norm" : "") + (options.diffAugment ? ", DiffAugment" : "")
                  + "); run directory \(runURL.path)")
            let watcher = try makeMonitor(set: set, bar: bar)
            let result = try GANTrainer(options: options, config: config, images: set.images, labels: set.labels, runDirectory: runURL,
                                        monitor: watcher, log: { bar.log($0) }, progress: { bar.update($0, $1, $2) }).run(resume: resume)
            bar.finish()
            let destination = URL(fileURLWithPath: out ?? ".cache/models/gan/\(result.config.version).pt")
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(Data(contentsOf: Checkpoint.configURL(for: result.generatorFile)), to: Checkpoint.configURL(for: destination))
            try AtomicFile.write(Data(contentsOf: result.generatorFile), to: destination)
            print("generator \(result.config.version) → \(destination.path); samples in \(runURL.appendingPathComponent("samples").path)")
        }

        /// The mode monitor (Fashion-MNIST's classifier) and the FID reference: the test images for
        /// Fashion-MNIST, the training photos themselves for the catalogue.
        func makeMonitor(set: GANImageSet, bar: LineProgress) throws -> GANMonitor? {
            guard monitor || fidEvery > 0 else { return nil }
            var model: FashionClassifier? = nil
            if monitor, data == .fashionMnist {
                let file = URL(fileURLWithPath: classifier)
                if FileManager.default.fileExists(atPath: file.path) {
                    model = try FashionClassifier(contentsOf: file)
                } else {
                    let (trained, accuracy) = try FashionClassifier.train(train: FashionMNIST(split: .train), test: FashionMNIST(split: .test),
                                                                          progress: { bar.update($0, $1, $2) })
                    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Checkpoint.save(trained.store.namedTensors, to: file)
                    bar.log(String(format: "mode monitor: Fashion-MNIST classifier, test accuracy %.3f → %@", accuracy, file.path))
                    model = trained
                }
            }
            guard fidEvery > 0 else { return GANMonitor(classifier: model) }
            let inception = try InceptionFeatures()
            let reference: FeatureStatistics
            var samples = fidSamples
            switch data {
            case .fashionMnist:
                reference = try FashionMNIST.statistics(split: .test, count: fidSamples, inception: inception,
                                                        cacheDirectory: URL(fileURLWithPath: ".cache/fid"),
                                                        progress: { bar.update("FID reference features", $0, $1) })
            case .catalogue:
                samples = min(fidSamples, set.count)
                reference = try inception.statistics(count: samples, progress: { bar.update("FID reference features", $0, $1) }) {
                    try set.images.slice(dim: 0, $0 ..< $0 + $1)
                }
            }
            return GANMonitor(classifier: model, inception: inception, reference: reference, fidEvery: fidEvery, fidSamples: samples)
        }
    }
}

/// The catalogue's train and validation products with their photos, as GAN training images (64×64).
/// The test split stays out: the captioner is measured on it.
func loadCatalogueImages(database: DatabaseOptions, objects: String?, conditions: [GANCondition], limit: Int?,
                         thin: Thinning? = nil, bar: LineProgress) async throws -> GANImageSet {
    let logger = makeLogger("loupe.gan")
    let config = try database.configuration()
    var examples = try await config.withConnection(logger: logger) { connection in
        try await TrainingDataRepository().examples(splits: [.train, .validation], on: connection, logger: logger)
    }
    if let thin {
        let before = examples.count
        examples = thin.apply(examples)
        bar.log("thinned \(thin.category) to \(thin.keep) products: \(before) → \(examples.count) products")
    }
    if let limit { examples = Array(examples.prefix(limit)) }
    guard !examples.isEmpty else { throw ValidationError("no catalogue products: import one first (`loupe catalog import Fixtures/catalogue`)") }
    let store = try DirectoryObjectStore(root: URL(fileURLWithPath: objects ?? Paths.objects))
    var items: [(photo: RGBImage, attributes: Attributes)] = []
    for example in examples {
        for key in example.images { items.append((try RGBImage(contentsOf: store.url(for: key)), example.attributes)) }
    }
    let set = try GANImageSet.catalogue(items, size: 64, conditions: conditions, progress: { bar.update("catalogue photos", $0, $1) })
    bar.finish()
    return set
}

struct GANCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gan", abstract: "Use a trained generator.", subcommands: [Sample.self])

    struct Sample: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write N generated images as PNG files (and grid.png) into a directory; a conditional generator takes its labels.")
        @Option(help: "Generator file written by `loupe train gan`.") var model: String
        @Option(help: "How many images.") var n = 64
        @Option(help: "Output directory.") var out: String
        @Option(help: "Category (a catalogue generator conditioned on category), e.g. ring.") var category: String?
        @Option(help: "Metal (conditioned on metal), e.g. rose-gold.") var metal: String?
        @Option(help: "Style (conditioned on style).") var style: String?
        @Option(help: "Finish (conditioned on finish).") var finish: String?
        @Option(name: .customLong("class"), help: "Fashion-MNIST class (a class-conditional generator), e.g. Sneaker.") var label: String?
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard (1 ... 10_000).contains(n) else { throw ValidationError("--n must be 1–10000") }
            let generator = try Generator(contentsOf: URL(fileURLWithPath: model))
            var fixed: [String: String] = [:]
            for (name, value) in [("category", category), ("metal", metal), ("style", style), ("finish", finish), ("class", label)] {
                if let value { fixed[name] = value }
            }
            let images: Tensor, labels: Tensor?
            do { (images, labels) = try generator.sample(count: n, fixing: fixed) } catch let error as GANSamplingError {
                throw ValidationError(error.description)
            }
            let directory = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let c = generator.config
            for i in 0 ..< n {
                try ImageEncoder.writePNG(images.slice(dim: 0, i ..< i + 1).reshape(c.channels, c.imageSize, c.imageSize),
                                          to: directory.appendingPathComponent(String(format: "sample-%05d.png", i)), range: -1 ... 1)
            }
            try ImageEncoder.writePNG(ImageEncoder.grid(images.slice(dim: 0, 0 ..< min(n, 64))), to: directory.appendingPathComponent("grid.png"),
                                      range: -1 ... 1)
            // samples.tsv: each file with the labels it was drawn for (what `train captioner --synthetic` reads).
            let indices = try labels.map { try $0.to(.float64).doubles().map { Int($0) } } ?? []
            var manifest = (["file"] + c.conditions.map(\.name)).joined(separator: "\t") + "\n"
            for i in 0 ..< n {
                let row = c.conditions.enumerated().map { $0.element.labels[indices[i * c.conditions.count + $0.offset]] }
                manifest += ([String(format: "sample-%05d.png", i)] + row).joined(separator: "\t") + "\n"
            }
            try AtomicFile.write(Data(manifest.utf8), to: directory.appendingPathComponent("samples.tsv"))
            let named = fixed.keys.sorted().map { "\($0) \(fixed[$0]!)" }.joined(separator: ", ")
            print("wrote \(n) images of \(c.version)\(named.isEmpty ? "" : " (\(named))") and samples.tsv into \(directory.path)")
        }
    }
}

extension Bench {
    /// `loupe bench gan-step`: the Swift half of benchmarks/gan_step.sh — the seed DCGAN's training step
    /// (batch 128 of 1×32×32, Adam 2e-4 β1 0.5, smoothed real labels), as benchmarks/gan_step.py.
    struct GANStepBench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gan-step", abstract: "DCGAN training steps (batch 128, 1x32x32); prints images/s.")
        @OptionGroup var runtime: RuntimeOptions
        @Option(help: "Timed steps.") var steps = 20
        @Option(help: "Untimed warm-up steps.") var warmup = 3
        @Option(help: "Batch size.") var batch = 128

        func run() throws {
            try runtime.apply()
            let config = DCGANConfig()
            let g = try Generator(config: config), d = try Discriminator(config: config)
            let adam = Optimizer.Algorithm.adam(beta1: 0.5, beta2: 0.999)
            let step = GANStep(generator: g, discriminator: d,
                               optG: try Optimizer(adam, parameters: g.store.trainableParameters, learningRate: 2e-4),
                               optD: try Optimizer(adam, parameters: d.store.trainableParameters, learningRate: 2e-4), realLabel: 0.9)
            let real = try Tensor.rand([batch, 1, 32, 32]) * 2 - 1
            try timeSteps(steps: steps, warmup: warmup, batch: batch) { try step.run(real: real).discriminatorLoss }
        }
    }
}

extension GANLoss: ExpressibleByArgument {}

extension EvalCommand {
    struct GAN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gan",
            abstract: "FID of a generator beside the real-vs-real floor: a Fashion-MNIST model against the test images (floor: train vs test), a catalogue model against the catalogue's photos (floor: one half of them against the other).")
        @Option(help: "Generator file written by `loupe train gan`.") var model: String
        @Option(help: "Generated images, and real images per side (the catalogue: at most its photo count).") var samples = 10_000
        @Option(help: "Images per InceptionV3 batch.") var batch = 32
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Object store directory (catalogue models; default: LOUPE_OBJECTS or .cache/objects).") var objects: String?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard samples >= 2 else { throw ValidationError("--samples must be at least 2") }
            let generator = try Generator(contentsOf: URL(fileURLWithPath: model))
            let inception = try InceptionFeatures()
            let bar = LineProgress()
            let reference: FeatureStatistics, floor: Double, against: String, floorName: String
            var count = samples
            var realLabels: Tensor? = nil
            if generator.config.channels == 1 {
                // Real statistics are cached: they depend only on the split and the count.
                func real(_ split: FashionMNIST.Split) throws -> FeatureStatistics {
                    try FashionMNIST.statistics(split: split, count: samples, inception: inception, cacheDirectory: URL(fileURLWithPath: ".cache/fid"),
                                                progress: { bar.update("features \(split.rawValue)", $0, $1) })
                }
                reference = try real(.test)
                floor = try FID.distance(real(.train), reference)
                (against, floorName) = ("\(samples) test images", "train vs test")
                if generator.config.isConditional {  // the test split's classes are uniform
                    realLabels = try Tensor((0 ..< samples).map { Int64($0 % 10) }, shape: [samples, 1])
                }
            } else {
                let set = try await loadCatalogueImages(database: database, objects: objects, conditions: generator.config.conditions, limit: nil,
                                                        bar: bar)
                count = min(samples, set.count)
                guard count >= 4 else { throw ValidationError("the catalogue has \(set.count) photos; FID needs more") }
                let half = count / 2
                // One pass of the network; the floor's halves are rows of the same features.
                let features = try inception.features(count: count, batchSize: batch, progress: { bar.update("features catalogue", $0, $1) }) {
                    try set.images.slice(dim: 0, $0 ..< $0 + $1)
                }
                reference = try FeatureStatistics(features: features)
                floor = try FID.distance(FeatureStatistics(features: features.slice(dim: 0, 0 ..< half)),
                                         FeatureStatistics(features: features.slice(dim: 0, half ..< 2 * half)))
                (against, floorName) = ("\(count) catalogue photos", "\(half) photos vs the other \(half)")
                // Generated with the catalogue's own mix of labels.
                realLabels = try set.labels?.slice(dim: 0, 0 ..< count)
            }
            generator.store.eval()
            let generated = try inception.statistics(count: count, batchSize: batch, progress: { bar.update("features generated", $0, $1) }) { start, n in
                try withNoGrad { try generator(Tensor.randn([n, generator.config.latent]), labels: realLabels?.slice(dim: 0, start ..< start + n)) }
            }
            bar.finish()
            let fid = try FID.distance(generated, reference)
            if json {
                print(String(format: #"{"model":"%@","samples":%d,"fid":%.3f,"real_vs_real":%.3f}"#, generator.config.version, count, fid, floor))
            } else {
                print(String(format: "FID %.2f (%@, %d generated vs %@); real vs real (%@) %.2f", fid, generator.config.version, count, against, floorName, floor))
            }
        }
    }
}
