import Catalog
import Foundation
import Imaging
@testable import Synthesis
import Testing
import Torch

/// The options beyond the seed: spectral normalisation, the EMA of the generator, the conditional GAN,
/// the hinge loss, sampling by label and the catalogue's training images.
@Suite struct GANOptionsTests {
    /// One training-mode forward pass of a spectrally normalised convolution against PyTorch 1.13's
    /// `torch.nn.utils.spectral_norm` from the same weight, u and v: the power-iteration vectors, the
    /// normalised weight, and the gradient through σ(W).
    @Test func spectralNormMatchesPyTorch() throws {
        let store = ParameterStore()
        let conv = try DiscriminatorConv(store.root / "c", inChannels: 3, outChannels: 4, kernelSize: 2, stride: 1, padding: 0, spectralNorm: true)
        let weight = try conv.conv.weight.floats(), u = try conv.u!.floats(), v = try conv.v!.floats()
        let r = try Tensor((0 ..< 48).map { Float(($0 * 7) % 11) / 11 - 0.5 }, shape: [4, 3, 2, 2])
        let normalized = try conv.weight()
        try (normalized * r).sum().backward()
        let reference = try python("""
            import json, torch
            conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(3, 4, 2))
            with torch.no_grad():
                conv.weight_orig.copy_(torch.tensor(\(weight)).reshape(4, 3, 2, 2))
                conv.weight_u.copy_(torch.tensor(\(u)))
                conv.weight_v.copy_(torch.tensor(\(v)))
            conv.train()
            conv(torch.zeros(1, 3, 2, 2))  # the forward pre-hook runs one power iteration
            r = torch.tensor([((i * 7) % 11) / 11 - 0.5 for i in range(48)]).reshape(4, 3, 2, 2)
            (conv.weight * r).sum().backward()
            print(json.dumps({"u": conv.weight_u.tolist(), "v": conv.weight_v.tolist(), "w": conv.weight.flatten().tolist(),
                              "g": conv.weight_orig.grad.flatten().tolist()}))
            """)
        let expected = try JSONDecoder().decode([String: [Float]].self, from: Data(reference.utf8))
        func close(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 + 1e-4 * abs($1) } }
        #expect(close(try conv.u!.floats(), expected["u"]!))
        #expect(close(try conv.v!.floats(), expected["v"]!))
        #expect(close(try normalized.floats(), expected["w"]!))
        let gradient = try conv.conv.weight.grad!.floats()
        #expect(close(gradient, expected["g"]!), "\(gradient) vs \(expected["g"]!)")
        // After enough iterations the normalised weight's largest singular value is 1: the largest
        // eigenvalue of W Wᵀ, by the symmetric eigensolver.
        for _ in 0 ..< 50 { _ = try withNoGrad { try conv.weight() } }
        let matrix = try withNoGrad { try conv.weight().reshape(4, 12) }
        let top = try matrix.matmul(matrix.transpose(0, 1)).to(.float64).symmetricEigen().values.max().item()
        #expect(abs(top.squareRoot() - 1) < 1e-4, "σ_max = \(top.squareRoot())")
    }

    /// average ← d·average + (1 − d)·live for parameters, buffers copied.
    @Test func emaMovesTowardsTheLiveGenerator() throws {
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures) = (8, 8)
        let live = try Generator(config: config), average = try Generator(config: config)
        let a0 = try average.store["first.weight"]!.floats(), l0 = try live.store["first.weight"]!.floats()
        try withNoGrad { try live.store["first_bn.running_mean"]!.fill_(0.25) }
        try GANStep.moveAverage(average, towards: live, decay: 0.9)
        let a1 = try average.store["first.weight"]!.floats()
        #expect(zip(zip(a0, l0), a1).allSatisfy { abs(0.9 * $0.0 + 0.1 * $0.1 - $1) < 1e-6 })
        #expect(try average.store["first_bn.running_mean"]!.floats().allSatisfy { $0 == 0.25 })
        #expect(GANStep.warmedDecay(0.999, step: 0) == 0.1 && GANStep.warmedDecay(0.999, step: 90) == 0.91)
        #expect(GANStep.warmedDecay(0.999, step: 100_000) == 0.999)
    }

    /// Old configurations (before conditions and spectral norm) still load as the seed's.
    @Test func seedConfigurationsStillDecode() throws {
        let old = #"{"latent":100,"imageSize":32,"channels":1,"generatorFeatures":64,"discriminatorFeatures":64,"leakySlope":0.2,"version":"dcgan-x"}"#
        let config = try JSONDecoder().decode(DCGANConfig.self, from: Data(old.utf8))
        #expect(config.conditions.isEmpty && !config.spectralNorm && config.version == "dcgan-x")
        let options = try JSONDecoder().decode(GANTrainingOptions.self, from: Data(
            #"{"epochs":3,"batchSize":128,"learningRate":0.0002,"beta1":0.5,"realLabel":0.9,"seed":0,"samples":64}"#.utf8))
        #expect(options.loss == .bce && options.ema == 0 && !options.flip && options.discriminatorLearningRate == nil)
    }

    /// Two time-scale updates: the discriminator's Adam runs at its own rate (0 here: it must not move)
    /// while the generator's runs at `learningRate`; the rate is saved with the run.
    @Test func theDiscriminatorHasItsOwnLearningRate() throws {
        let run = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures) = (8, 8)
        var options = GANTrainingOptions()
        (options.epochs, options.batchSize, options.samples, options.discriminatorLearningRate) = (1, 16, 4, 0)
        LibTorch.manualSeed(5)
        let images = try Tensor.rand([32, 1, 32, 32]) * 2 - 1
        _ = try GANTrainer(options: options, config: config, images: images, runDirectory: run, log: { _ in }, progress: { _, _, _ in }).run(resume: false)
        LibTorch.manualSeed(options.seed)  // the trainer's start: the same seed, the generator then the discriminator
        let fresh = try Generator(config: config), freshD = try Discriminator(config: config)
        let d = try Checkpoint.load(from: run.appendingPathComponent("discriminator-last.pt"))
        let g = try Checkpoint.load(from: run.appendingPathComponent("generator-last.pt"))
        func moved(_ saved: [(name: String, tensor: Tensor)], _ start: ParameterStore) throws -> Double {
            let parameters = Set(start.entries.filter { $0.kind == .parameter }.map(\.name))
            return try saved.filter { parameters.contains($0.name) }.map { try ($0.tensor - start[$0.name]!).abs().max().item() }.max() ?? 0
        }
        #expect(try moved(d, freshD.store) == 0)
        #expect(try moved(g, fresh.store) > 1e-4)
        let state = try String(contentsOf: run.appendingPathComponent("state.json"), encoding: .utf8)
        #expect(state.contains(#""discriminatorLearningRate":0"#), "\(state)")
    }

    /// A conditional GAN on two classes that are two flat images (class 0 black, class 1 white) learns to
    /// draw each class's image from its label — with the seed's BCE, and with hinge + spectral norm + EMA.
    @Test(arguments: [false, true]) func conditionalGANDrawsTheRequestedClass(beyondSeed: Bool) throws {
        let run = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let n = 128
        let labels = try Tensor((0 ..< n).map { Int64($0 % 2) }, shape: [n, 1])
        let images = try (labels.to(.float32).reshape(n, 1, 1, 1) * 2 - 1).expand([n, 1, 32, 32]).contiguous()  // −1 or +1
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures) = (16, 16)
        config.conditions = [GANCondition(name: "class", labels: ["black", "white"])]
        config.spectralNorm = beyondSeed
        var options = GANTrainingOptions()
        (options.epochs, options.batchSize, options.samples, options.learningRate) = (80, 32, 8, 1e-3)
        if beyondSeed { (options.loss, options.ema) = (.hinge, 0.9) }
        LibTorch.manualSeed(3)
        let result = try GANTrainer(options: options, config: config, images: images, labels: labels, runDirectory: run, log: { _ in },
                                    progress: { _, _, _ in }).run(resume: false)
        let generator = try Generator(contentsOf: result.generatorFile)
        #expect(generator.config.conditions == config.conditions && result.config.version.hasPrefix("cdcgan-"))
        let black = try generator.sample(count: 16, fixing: ["class": "black"]).images.mean().item()
        let white = try generator.sample(count: 16, fixing: ["class": "White"]).images.mean().item()
        // An unconditional generator would draw the same mix (mean ≈ 0) for both labels.
        #expect(black < -0.25 && white > 0.25, "mean pixel: black \(black), white \(white)")
        if beyondSeed { #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("generator-ema.pt").path)) }
    }

    /// Labels by name: fixed where given, uniformly drawn elsewhere; clear errors otherwise.
    @Test func samplingByLabel() throws {
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures, config.imageSize, config.channels) = (8, 8, 64, 3)
        config.conditions = try GANImageSet.conditions(fields: ["category", "metal"])
        let generator = try Generator(config: config)
        let labels = try generator.labels(fixing: ["metal": "rose_gold"], count: 200)!  // (200, 2)
        let rows = try labels.ints()
        let metals = stride(from: 1, to: rows.count, by: 2).map { rows[$0] }, categories = stride(from: 0, to: rows.count, by: 2).map { rows[$0] }
        #expect(Set(metals) == [Taxonomy.standard.metal.index(of: "rose-gold")!])
        #expect(Set(categories) == Set(0 ..< Taxonomy.standard.category.values.count))
        #expect(try generator.sample(count: 3, fixing: ["category": "ring"]).images.shape == [3, 3, 64, 64])
        #expect(throws: GANSamplingError.unknownCondition("style", available: ["category", "metal"])) {
            try generator.labels(fixing: ["style": "boho"], count: 1)
        }
        #expect(throws: GANSamplingError.self) { try generator.labels(fixing: ["metal": "gold"], count: 1) }
        #expect(throws: GANSamplingError.unconditional("category")) { try Generator(config: DCGANConfig()).labels(fixing: ["category": "ring"], count: 1) }
        #expect(throws: (any Error).self) { try GANImageSet.conditions(fields: ["gemstone"]) }
    }

    /// A catalogue photo becomes a white-padded square at 64×64 in [−1, 1] with its labels' indices.
    @Test func catalogueImagesArePaddedResizedAndLabelled() throws {
        let (w, h) = (200, 100)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) { pixels[i] = 255 }  // pure red
        let photo = RGBImage(width: w, height: h, pixels: pixels, info: ImageInfo(format: .png, width: w, height: h))
        let attributes = Attributes(category: "bangle", metal: "copper", gemstones: ["none"], style: "boho", finish: "matte")
        let conditions = try GANImageSet.conditions(fields: ["category", "metal"])
        let set = try GANImageSet.catalogue([(photo, attributes)], size: 64, conditions: conditions)
        #expect(set.images.shape == [1, 3, 64, 64])
        #expect(try set.labels!.ints() == [Taxonomy.standard.category.index(of: "bangle")!, Taxonomy.standard.metal.index(of: "copper")!])
        let centre = try (0 ..< 3).map { try set.images.select(dim: 0, index: 0).select(dim: 0, index: $0).select(dim: 0, index: 32).select(dim: 0, index: 32).item() }
        let corner = try (0 ..< 3).map { try set.images.select(dim: 0, index: 0).select(dim: 0, index: $0).select(dim: 0, index: 1).select(dim: 0, index: 1).item() }
        #expect(zip(centre, [1.0, -1, -1]).allSatisfy { abs($0 - $1) < 1e-5 }, "\(centre)")
        #expect(corner.allSatisfy { abs($0 - 1) < 1e-5 }, "\(corner)")  // padding is white
    }
}

@Suite struct DiffAugmentTests {
    /// Each part does what it says on a known image, and gradients reach the generator through it.
    @Test func augmentationsAreDifferentiableAndDoWhatTheySay() throws {
        LibTorch.manualSeed(5)
        let x = try (Tensor.rand([6, 3, 16, 16]) * 2 - 1).requiresGrad(true)
        let y = try DiffAugment.apply(x)
        #expect(y.shape == [6, 3, 16, 16])
        try y.sum().backward()
        #expect(try x.grad!.abs().sum().item() > 0)
        // Cutout zeroes one 8×8 square (64 of 256 pixels, fewer at an edge) and keeps the rest.
        let ones = try Tensor.ones([4, 1, 16, 16])
        let cut = try DiffAugment.cutout(ones)
        for i in 0 ..< 4 {
            let zeros = 256 - Int(try cut.select(dim: 0, index: i).sum().item())
            #expect(zeros >= 16 && zeros <= 64, "\(zeros) zeroed")
        }
        // Translation moves the content by whole pixels and fills with 0: a single lit pixel stays one pixel.
        let dot = try Tensor.zeros([8, 1, 16, 16])
        try withNoGrad { try dot.slice(dim: 2, 8 ..< 9).slice(dim: 3, 8 ..< 9).fill_(1) }
        let moved = try DiffAugment.translate(dot)
        for i in 0 ..< 8 {
            let image = try moved.select(dim: 0, index: i)
            #expect(try image.sum().item() == 1 && image.max().item() == 1)
        }
        // Colour: a constant grey image stays constant within each image (brightness and contrast move it as a whole).
        let grey = try DiffAugment.colour(Tensor.zeros([4, 3, 8, 8]))
        for i in 0 ..< 4 {
            let image = try grey.select(dim: 0, index: i)
            #expect(try (image.max() - image.min()).item() < 1e-6)
        }
    }
}
