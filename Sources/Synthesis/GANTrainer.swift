import Foundation
import Imaging
import Torch

/// The adversarial loss.
public enum GANLoss: String, Codable, Sendable, CaseIterable {
    /// The seed's: binary cross-entropy on logits, real target `realLabel`, fake 0; G's target 1.
    case bce
    /// Hinge (Lim & Ye 2017; SN-GAN, BigGAN): D minimises relu(1 − D(x)) + relu(1 + D(G(z))), G
    /// minimises −D(G(z)). Label smoothing does not apply.
    case hinge
}

/// Hyper-parameters of a GAN run (the seed recipe by default), saved with the run.
public struct GANTrainingOptions: Codable, Sendable, ExtensibleTrainingOptions {
    public var epochs = 25
    public var batchSize = 128
    /// Adam, both networks (the generator's; the discriminator's too unless `discriminatorLearningRate`).
    public var learningRate = 2e-4
    /// The discriminator's own rate (two time-scale update rule, Heusel et al. 2017), nil: `learningRate`.
    public var discriminatorLearningRate: Double?
    public var beta1 = 0.5
    /// One-sided label smoothing: the discriminator's target for real images.
    public var realLabel = 0.9
    public var seed: UInt64 = 0
    /// Images in the per-epoch sample grid (fixed latent vectors).
    public var samples = 64
    public var loss = GANLoss.bce
    /// Exponential moving average of the generator's weights (0: off; e.g. 0.999), its decay ramped up
    /// over the first steps (`GANStep.warmedDecay`). The average is what the grids, the monitors and the
    /// saved model use; BatchNorm statistics are copied from the live generator.
    public var ema = 0.0
    /// Mirror each real image left–right with probability ½ (the catalogue's photos; not Fashion-MNIST).
    public var flip = false
    /// Differentiable augmentation of everything the discriminator sees (`DiffAugment`): for small sets.
    public var diffAugment = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize, learningRate, discriminatorLearningRate, beta1, realLabel, seed, samples, loss, ema, flip, diffAugment
    }

    /// Runs saved before `loss` and `ema` existed read as the seed's.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        discriminatorLearningRate = try c.decodeIfPresent(Double.self, forKey: .discriminatorLearningRate)
        beta1 = try c.decode(Double.self, forKey: .beta1)
        realLabel = try c.decode(Double.self, forKey: .realLabel)
        seed = try c.decode(UInt64.self, forKey: .seed)
        samples = try c.decode(Int.self, forKey: .samples)
        loss = try c.decodeIfPresent(GANLoss.self, forKey: .loss) ?? .bce
        ema = try c.decodeIfPresent(Double.self, forKey: .ema) ?? 0
        flip = try c.decodeIfPresent(Bool.self, forKey: .flip) ?? false
        diffAugment = try c.decodeIfPresent(Bool.self, forKey: .diffAugment) ?? false
    }
}

public struct GANEpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var discriminatorLoss: Double
    public var generatorLoss: Double
    /// Mean D(x) on real images and D(G(z)) on generated ones (probabilities).
    public var realScore: Double
    public var fakeScore: Double
    public var seconds: Double
    public var imagesPerSecond: Double
    /// The mode-collapse monitor on this epoch's samples (with a classifier).
    public var modes: ModeReport? = nil
    /// FID against the reference statistics (every `fidEvery` epochs).
    public var fid: Double? = nil
}

/// What the trainer watches besides the losses: the class histogram of generated samples (mode
/// collapse) and the FID every few epochs.
public struct GANMonitor {
    public let classifier: FashionClassifier?
    public let modeSamples: Int
    public let inception: InceptionFeatures?
    public let reference: FeatureStatistics?
    public let fidEvery: Int
    public let fidSamples: Int

    public init(classifier: FashionClassifier?, modeSamples: Int = 1000, inception: InceptionFeatures? = nil, reference: FeatureStatistics? = nil,
                fidEvery: Int = 0, fidSamples: Int = 2000) {
        precondition(fidEvery == 0 || (inception != nil && reference != nil), "FID needs the network and reference statistics")
        (self.classifier, self.modeSamples, self.inception, self.reference) = (classifier, modeSamples, inception, reference)
        (self.fidEvery, self.fidSamples) = (fidEvery, fidSamples)
    }
}

struct GANTrainerState: Codable {
    var options: GANTrainingOptions
    var config: DCGANConfig
    var epoch: Int
    var step: Int
    var history: [GANEpochRecord]
    var rngState: UInt64
}

public struct GANTrainingResult: Sendable {
    public let generatorFile: URL
    public let config: DCGANConfig
    public let history: [GANEpochRecord]
}

/// Trains a DCGAN: alternating discriminator and generator steps with BCE on logits, Adam(lr, β1),
/// real labels smoothed; per epoch a grid of samples from fixed latent vectors and the loss curves as
/// PNG; resumable from its run directory after every epoch.
public final class GANTrainer {
    public let options: GANTrainingOptions
    public let config: DCGANConfig
    let images: Tensor
    /// (N, F) int64 label indices for a conditional configuration, else nil.
    let labels: Tensor?
    public let runDirectory: URL
    let log: (String) -> Void
    let progress: (String, Int, Int) -> Void
    let monitor: GANMonitor?

    /// `images`: (N, C, S, S) in [−1, 1] matching the configuration; `labels`: (N, F) int64 indices into
    /// the configuration's conditions when it has any.
    public init(options: GANTrainingOptions, config: DCGANConfig, images: Tensor, labels: Tensor? = nil, runDirectory: URL,
                monitor: GANMonitor? = nil, log: @escaping (String) -> Void, progress: @escaping (String, Int, Int) -> Void) {
        self.monitor = monitor
        precondition((labels == nil) == config.conditions.isEmpty, "labels come with a conditional configuration, and only then")
        precondition(labels == nil || labels!.shape == [images.shape[0], config.conditions.count], "labels are (N, fields)")
        precondition((0 ..< 1).contains(options.ema), "the EMA decay is in [0, 1)")
        self.labels = labels
        precondition(images.shape.count == 4 && images.shape[1] == config.channels && images.shape[2] == config.imageSize
                     && images.shape[3] == config.imageSize, "images are (N, \(config.channels), \(config.imageSize), \(config.imageSize))")
        precondition(images.shape[0] >= options.batchSize, "at least one full batch of images")
        (self.options, self.config, self.images, self.runDirectory, self.log, self.progress) = (options, config, images, runDirectory, log, progress)
    }

    var stateURL: URL { runDirectory.appendingPathComponent("state.json") }
    var generatorURL: URL { runDirectory.appendingPathComponent("generator-last.pt") }
    var discriminatorURL: URL { runDirectory.appendingPathComponent("discriminator-last.pt") }
    var averageURL: URL { runDirectory.appendingPathComponent("generator-ema.pt") }
    public var modelURL: URL { runDirectory.appendingPathComponent("generator.pt") }

    public func run(resume: Bool) throws -> GANTrainingResult {
        let fm = FileManager.default
        try fm.createDirectory(at: runDirectory.appendingPathComponent("samples"), withIntermediateDirectories: true)
        LibTorch.manualSeed(options.seed)
        var state = GANTrainerState(options: options, config: config, epoch: 0, step: 0, history: [], rngState: options.seed &+ 0x5EED)
        if let saved = try TrainingRun.savedState(GANTrainerState.self, at: stateURL, resume: resume,
                                                  isSameRun: { $0.options.isSameRun(as: options) && $0.config == config }) {
            state = saved
            state.options = options
            log("resuming after epoch \(state.epoch)")
        }
        let generator = try Generator(config: config), discriminator = try Discriminator(config: config)
        // The generator that is sampled and saved: the EMA of the weights, or the live generator.
        let average = options.ema > 0 ? try Generator(config: config) : nil
        if let average { try average.store.load(generator.store.namedTensors) }
        let sampler = average ?? generator
        let adam = Optimizer.Algorithm.adam(beta1: options.beta1, beta2: 0.999)
        let optG = try Optimizer(adam, parameters: generator.store.trainableParameters, learningRate: options.learningRate)
        let optD = try Optimizer(adam, parameters: discriminator.store.trainableParameters,
                                 learningRate: options.discriminatorLearningRate ?? options.learningRate)
        if state.epoch > 0 {
            try generator.store.load(Checkpoint.load(from: generatorURL))
            try discriminator.store.load(Checkpoint.load(from: discriminatorURL))
            try optG.load(from: runDirectory.appendingPathComponent("optimizer-g.pt"))
            try optD.load(from: runDirectory.appendingPathComponent("optimizer-d.pt"))
            if let average { try average.store.load(Checkpoint.load(from: averageURL)) }
        }
        // What the generator should look like: a grid of training images beside the epochs' grids.
        try ImageEncoder.writePNG(ImageEncoder.grid(images.slice(dim: 0, 0 ..< min(options.samples, images.shape[0])), columns: 8, padding: 2,
                                                    background: 1),
                                  to: runDirectory.appendingPathComponent("samples/real.png"), range: -1 ... 1)
        // The grid's latent vectors: the same every epoch and after a resume.
        LibTorch.manualSeed(options.seed &+ 1)
        let fixedLatent = try Tensor.randn([options.samples, config.latent])
        let fixedLabels = try randomLabels(options.samples)
        LibTorch.manualSeed(options.seed &+ UInt64(state.epoch) &* 7919)

        let n = images.shape[0]
        let steps = n / options.batchSize  // full batches only: BatchNorm statistics of a tiny last batch are noise
        let step = GANStep(generator: generator, discriminator: discriminator, optG: optG, optD: optD, realLabel: options.realLabel,
                           loss: options.loss, average: average.map { ($0, options.ema) }, augment: options.diffAugment)
        var rng = SplitMix64(seed: state.rngState)
        let start = Date()
        let startEpoch = state.epoch
        while state.epoch < options.epochs {
            let epochStart = Date()
            generator.store.train(); discriminator.store.train()
            var order = Array(0 ..< n)
            order.shuffle(using: &rng)
            var sums = (d: 0.0, g: 0.0, real: 0.0, fake: 0.0)
            for s in 0 ..< steps {
                let index = try Tensor(order[s * options.batchSize ..< (s + 1) * options.batchSize].map(Int64.init), shape: [options.batchSize])
                var real = try images.indexSelect(dim: 0, index: index)  // (B, C, S, S)
                if options.flip {
                    let keep = try Tensor.rand([options.batchSize, 1, 1, 1]).lt(0.5).to(.float32)  // 1: as is, 0: mirrored
                    real = try real * keep + real.flip([3]) * (1 - keep)
                }
                let out = try step.run(real: real, labels: labels?.indexSelect(dim: 0, index: index), step: state.step)
                state.step += 1
                sums.d += out.discriminatorLoss; sums.g += out.generatorLoss; sums.real += out.realScore; sums.fake += out.fakeScore
                progress(String(format: "epoch %d/%d D %.3f G %.3f", state.epoch + 1, options.epochs, sums.d / Double(s + 1), sums.g / Double(s + 1)),
                         s + 1, steps)
            }
            let seconds = Date().timeIntervalSince(epochStart)
            let k = Double(steps)
            var record = GANEpochRecord(epoch: state.epoch + 1, discriminatorLoss: sums.d / k, generatorLoss: sums.g / k, realScore: sums.real / k,
                                        fakeScore: sums.fake / k, seconds: seconds, imagesPerSecond: Double(steps * options.batchSize) / seconds)
            if let monitor {
                sampler.store.eval()
                if let classifier = monitor.classifier {
                    record.modes = ModeReport(classes: try classifier.predict(generate(sampler, count: monitor.modeSamples)))
                }
                if monitor.fidEvery > 0, (state.epoch + 1) % monitor.fidEvery == 0 || state.epoch + 1 == options.epochs,
                   let inception = monitor.inception, let reference = monitor.reference {
                    let stats = try inception.statistics(count: monitor.fidSamples, progress: { self.progress("FID", $0, $1) }) { _, n in
                        try self.generate(sampler, count: n)
                    }
                    record.fid = try FID.distance(stats, reference)
                }
                sampler.store.train()
            }
            state.history.append(record)
            state.epoch += 1
            state.rngState = rng.next()
            rng = SplitMix64(seed: state.rngState)
            try writeSamples(sampler, latent: fixedLatent, labels: fixedLabels, epoch: state.epoch)
            try Checkpoint.save(generator.store.namedTensors, to: generatorURL)
            if let average { try Checkpoint.save(average.store.namedTensors, to: averageURL) }
            try Checkpoint.save(discriminator.store.namedTensors, to: discriminatorURL)
            try optG.save(to: runDirectory.appendingPathComponent("optimizer-g.pt"))
            try optD.save(to: runDirectory.appendingPathComponent("optimizer-d.pt"))
            try AtomicFile.write(JSONEncoder().encode(state), to: stateURL)
            try writePlots(state.history)
            let done = state.epoch - startEpoch
            let eta = Double(options.epochs - state.epoch) * Date().timeIntervalSince(start) / Double(max(done, 1))
            let modes = record.modes.map { String(format: "  modes %d (entropy %.2f)", $0.distinctModes, $0.entropy) } ?? ""
            let fid = record.fid.map { String(format: "  FID %.2f", $0) } ?? ""
            log(String(format: "epoch %d/%d  D %.3f  G %.3f  D(x) %.3f  D(G(z)) %.3f%@%@  %.0f img/s  %.0fs  ETA %@", state.epoch, options.epochs,
                       record.discriminatorLoss, record.generatorLoss, record.realScore, record.fakeScore, modes, fid, record.imagesPerSecond, seconds,
                       formatDuration(eta)))
        }
        var final = config
        final.version = (config.isConditional ? "cdcgan-" : "dcgan-") + runTimestamp()
        let saved = try Generator(config: final)
        try saved.store.load(Checkpoint.load(from: average == nil ? generatorURL : averageURL))
        try Checkpoint.save(saved.store, config: final, to: modelURL)
        return GANTrainingResult(generatorFile: modelURL, config: final, history: state.history)
    }

    /// Label rows drawn from the training labels (the data's own mix of conditions), or nil.
    func randomLabels(_ n: Int) throws -> Tensor? {
        guard let labels else { return nil }
        return try labels.indexSelect(dim: 0, index: Tensor.randint(0, labels.shape[0], shape: [n]))
    }

    /// n samples (N, C, S, S) of a generator in its current mode, conditions drawn as the data's.
    func generate(_ generator: Generator, count n: Int) throws -> Tensor {
        try withNoGrad { try generator(Tensor.randn([n, config.latent]), labels: randomLabels(n)) }
    }

    func writeSamples(_ generator: Generator, latent: Tensor, labels: Tensor?, epoch: Int) throws {
        generator.store.eval()
        defer { generator.store.train() }
        let images = try withNoGrad { try generator(latent, labels: labels) }
        try ImageEncoder.writePNG(ImageEncoder.grid(images, columns: 8, padding: 2, background: 1),
                                  to: runDirectory.appendingPathComponent(String(format: "samples/epoch-%03d.png", epoch)), range: -1 ... 1)
    }

    func writePlots(_ history: [GANEpochRecord]) throws {
        try LinePlot(title: "DCGAN loss", series: [
            .init("discriminator", history.map(\.discriminatorLoss)), .init("generator", history.map(\.generatorLoss)),
        ]).write(to: runDirectory.appendingPathComponent("loss.png"))
        try LinePlot(title: "Discriminator scores", series: [
            .init("D(x)", history.map(\.realScore)), .init("D(G(z))", history.map(\.fakeScore)),
        ]).write(to: runDirectory.appendingPathComponent("scores.png"))
        if history.contains(where: { $0.modes != nil }) {
            try LinePlot(title: "Mode monitor (generated samples)", series: [
                .init("classes covered", history.map { Double($0.modes?.distinctModes ?? 0) }),
                .init("histogram entropy", history.map { $0.modes?.entropy ?? 0 }),
            ]).write(to: runDirectory.appendingPathComponent("modes.png"))
        }
        let fids = history.compactMap(\.fid)
        if !fids.isEmpty { try LinePlot(title: "FID", series: [.init("FID", fids)]).write(to: runDirectory.appendingPathComponent("fid.png")) }
    }
}

/// Loads a generator saved by `GANTrainer` (weights + `.json` configuration).
extension Generator {
    public convenience init(contentsOf url: URL) throws {
        let config = try Checkpoint.loadConfig(DCGANConfig.self, for: url)
        try self.init(config: config)
        try store.load(Checkpoint.load(from: url))
        store.eval()
    }
}

/// One DCGAN training step, shared by the trainer and `loupe bench gan-step`. With BCE (the seed) the
/// discriminator learns real → `realLabel` (one-sided smoothing) and generated → 0, then the generator
/// learns to make the discriminator say 1 for the same generated batch; with hinge, see `GANLoss`.
/// A conditional model sees the real batch's labels on both sides. With `average`, the EMA generator
/// moves towards the live one after the generator's step.
public struct GANStep {
    public let generator: Generator, discriminator: Discriminator
    public let optG: Optimizer, optD: Optimizer
    public let realLabel: Double
    public let loss: GANLoss
    let average: (generator: Generator, decay: Double)?
    /// DiffAugment on every discriminator input.
    public let augment: Bool

    public init(generator: Generator, discriminator: Discriminator, optG: Optimizer, optD: Optimizer, realLabel: Double, loss: GANLoss = .bce,
                average: (Generator, Double)? = nil, augment: Bool = false) {
        (self.generator, self.discriminator, self.optG, self.optD, self.realLabel, self.loss) = (generator, discriminator, optG, optD, realLabel, loss)
        self.average = average.map { (generator: $0.0, decay: $0.1) }
        self.augment = augment
    }

    func view(_ x: Tensor) throws -> Tensor { augment ? try DiffAugment.apply(x) : x }

    public struct Output { public let discriminatorLoss, generatorLoss, realScore, fakeScore: Double }

    /// `step`: the steps taken before this one (the EMA's warm-up).
    public func run(real: Tensor, labels: Tensor? = nil, step: Int = 0) throws -> Output {
        let b = real.shape[0]
        let fake = try generator(Tensor.randn([b, generator.config.latent]), labels: labels)  // (B, C, S, S)
        try optD.zeroGrad()
        let realLogits = try discriminator(view(real), labels: labels)           // (B)
        let fakeLogits = try discriminator(view(fake.detach()), labels: labels)  // (B)
        let dLoss: Tensor
        switch loss {
        case .bce:
            dLoss = try Functional.binaryCrossEntropyWithLogits(realLogits, target: Tensor.full([b], realLabel))
                + Functional.binaryCrossEntropyWithLogits(fakeLogits, target: Tensor.zeros([b]))
        case .hinge:
            dLoss = try (1 - realLogits).relu().mean() + (fakeLogits + 1).relu().mean()
        }
        try dLoss.backward()
        try optD.step()
        try optG.zeroGrad()
        let gLogits = try discriminator(view(fake), labels: labels)
        let gLoss = loss == .bce ? try Functional.binaryCrossEntropyWithLogits(gLogits, target: Tensor.ones([b])) : try gLogits.mean().neg()
        try gLoss.backward()
        try optG.step()
        if let average { try GANStep.moveAverage(average.generator, towards: generator, decay: GANStep.warmedDecay(average.decay, step: step)) }
        return Output(discriminatorLoss: try dLoss.item(), generatorLoss: try gLoss.item(),
                      realScore: try realLogits.sigmoid().mean().item(), fakeScore: try fakeLogits.sigmoid().mean().item())
    }

    /// The decay at a step, ramped up as TensorFlow's ExponentialMovingAverage with `num_updates`:
    /// min(decay, (1 + step) / (10 + step)). Without it a 0.999 average still holds a quarter of the
    /// random initial weights after 1,400 steps (0.999^1400).
    static func warmedDecay(_ decay: Double, step: Int) -> Double { min(decay, Double(1 + step) / Double(10 + step)) }

    /// average ← decay · average + (1 − decay) · live for parameters; buffers (BatchNorm statistics) copied.
    static func moveAverage(_ average: Generator, towards live: Generator, decay: Double) throws {
        try withNoGrad {
            for (a, l) in zip(average.store.entries, live.store.entries) {
                precondition(a.name == l.name, "the average and the live generator have one layout")
                if a.kind == .parameter {
                    try a.tensor.mul_(decay)
                    try a.tensor.add_(l.tensor, alpha: 1 - decay)
                } else {
                    try a.tensor.copy_(l.tensor)
                }
            }
        }
    }
}
