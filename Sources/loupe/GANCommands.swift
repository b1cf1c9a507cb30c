import ArgumentParser
import Foundation
import Imaging
import Synthesis
import Torch

extension TrainCommand {
    struct GAN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gan", abstract: "Train the DCGAN (seed recipe) on Fashion-MNIST at 32×32, with sample grids and loss curves per epoch.")

        enum DataSet: String, ExpressibleByArgument { case fashionMnist = "fashion-mnist" }

        @Option(help: "Training data: fashion-mnist (Debian's dataset-fashion-mnist).") var data: DataSet = .fashionMnist
        @Option var epochs = 25
        @Option var batchSize = 128
        @Option(name: .customLong("lr")) var learningRate = 2e-4
        @Option(help: "Use at most N training images (quick runs).") var limit: Int?
        @Option(help: "Run directory: checkpoints, state, samples/, loss.png (default: .cache/runs/gan-<time>).") var run: String?
        @Flag(help: "Continue the run in --run from its last epoch.") var resume = false
        @Option(help: "Where to copy the trained generator (default: .cache/models/gan/<version>.pt).") var out: String?
        @Option(help: "Fashion-MNIST classifier for the mode-collapse monitor (trained and saved there if missing).")
        var classifier = ".cache/models/gan/fashion-classifier.pt"
        @Flag(inversion: .prefixedNo, help: "Watch generated samples' class histogram every epoch.") var monitor = true
        @Option(help: "FID against the test images every N epochs and at the end (0: never).") var fidEvery = 5
        @Option(help: "Images per FID (generated and real).") var fidSamples = 2000
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard epochs >= 1, batchSize >= 2 else { throw ValidationError("--epochs ≥ 1 and --batch-size ≥ 2") }
            let dataset = try FashionMNIST(split: .train, limit: limit)
            let images = try dataset.tensor()
            guard dataset.count >= batchSize else { throw ValidationError("\(dataset.count) images are fewer than one batch of \(batchSize)") }
            var options = GANTrainingOptions()
            (options.epochs, options.batchSize, options.learningRate, options.seed) = (epochs, batchSize, learningRate, runtime.seed)
            let runURL = URL(fileURLWithPath: run ?? ".cache/runs/gan-\(runTimestamp())")
            print("training the DCGAN on \(dataset.count) Fashion-MNIST images (32×32); run directory \(runURL.path)")
            let bar = LineProgress()
            var watcher: GANMonitor? = nil
            if monitor || fidEvery > 0 {
                var model: FashionClassifier? = nil
                if monitor {
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
                let inception = fidEvery > 0 ? try InceptionFeatures() : nil
                let reference = try inception.map {
                    try FashionMNIST.statistics(split: .test, count: fidSamples, inception: $0, cacheDirectory: URL(fileURLWithPath: ".cache/fid"),
                                                progress: { bar.update("FID reference features", $0, $1) })
                }
                watcher = GANMonitor(classifier: model, inception: inception, reference: reference, fidEvery: fidEvery, fidSamples: fidSamples)
            }
            let result = try GANTrainer(options: options, config: DCGANConfig(), images: images, runDirectory: runURL, monitor: watcher,
                                        log: { bar.log($0) }, progress: { bar.update($0, $1, $2) }).run(resume: resume)
            bar.finish()
            let destination = URL(fileURLWithPath: out ?? ".cache/models/gan/\(result.config.version).pt")
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(Data(contentsOf: Checkpoint.configURL(for: result.generatorFile)), to: Checkpoint.configURL(for: destination))
            try AtomicFile.write(Data(contentsOf: result.generatorFile), to: destination)
            print("generator \(result.config.version) → \(destination.path); samples in \(runURL.appendingPathComponent("samples").path)")
        }
    }
}

struct GANCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gan", abstract: "Use a trained generator.", subcommands: [Sample.self])

    struct Sample: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write N generated images as PNG files (and grid.png) into a directory.")
        @Option(help: "Generator file written by `loupe train gan`.") var model: String
        @Option(help: "How many images.") var n = 64
        @Option(help: "Output directory.") var out: String
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard (1 ... 10_000).contains(n) else { throw ValidationError("--n must be 1–10000") }
            let generator = try Generator(contentsOf: URL(fileURLWithPath: model))
            let directory = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let images = try withNoGrad { try generator(Tensor.randn([n, generator.config.latent])) }  // (N, C, S, S) in [−1, 1]
            for i in 0 ..< n {
                try ImageEncoder.writePNG(images.slice(dim: 0, i ..< i + 1).reshape(generator.config.channels, generator.config.imageSize,
                                                                                    generator.config.imageSize),
                                          to: directory.appendingPathComponent(String(format: "sample-%05d.png", i)), range: -1 ... 1)
            }
            try ImageEncoder.writePNG(ImageEncoder.grid(images.slice(dim: 0, 0 ..< min(n, 64))), to: directory.appendingPathComponent("grid.png"),
                                      range: -1 ... 1)
            print("wrote \(n) images of \(generator.config.version) into \(directory.path)")
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

extension EvalCommand {
    struct GAN: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gan",
            abstract: "FID of a generator against the Fashion-MNIST test images, beside the real-vs-real floor (train vs test).")
        @Option(help: "Generator file written by `loupe train gan`.") var model: String
        @Option(help: "Generated images, and real images per side.") var samples = 10_000
        @Option(help: "Images per InceptionV3 batch.") var batch = 32
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard samples >= 2 else { throw ValidationError("--samples must be at least 2") }
            let generator = try Generator(contentsOf: URL(fileURLWithPath: model))
            let inception = try InceptionFeatures()
            let bar = LineProgress()
            // Real statistics are cached: they depend only on the split and the count.
            func real(_ split: FashionMNIST.Split) throws -> FeatureStatistics {
                try FashionMNIST.statistics(split: split, count: samples, inception: inception, cacheDirectory: URL(fileURLWithPath: ".cache/fid"),
                                            progress: { bar.update("features \(split.rawValue)", $0, $1) })
            }
            let test = try real(.test)
            let train = try real(.train)
            let generated = try inception.statistics(count: samples, batchSize: batch, progress: { bar.update("features generated", $0, $1) }) { _, n in
                try withNoGrad { try generator(Tensor.randn([n, generator.config.latent])) }
            }
            bar.finish()
            let fid = try FID.distance(generated, test), floor = try FID.distance(train, test)
            if json {
                print(String(format: #"{"model":"%@","samples":%d,"fid":%.3f,"real_vs_real":%.3f}"#, generator.config.version, samples, fid, floor))
            } else {
                print(String(format: "FID %.2f (%@, %d generated vs %d test images); real vs real (train vs test) %.2f", fid,
                             generator.config.version, samples, samples, floor))
            }
        }
    }
}
