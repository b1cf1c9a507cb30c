import Foundation
import Imaging
@testable import Synthesis
import Testing
import Torch

/// Debian's python3 (with PyTorch 1.13) on a script.
func python(_ script: String) throws -> String { try run("/usr/bin/python3", script, input: Data()) }

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-synthesis-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct IDXTests {
    /// The real Debian files against Python's own gzip + struct reading of the same bytes.
    @Test func fashionMNISTMatchesPython() throws {
        let test = try FashionMNIST(split: .test)
        #expect(test.count == 10_000)
        let reference = try python("""
            import gzip, struct
            d = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()
            l = gzip.open('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz').read()
            magic, n, h, w = struct.unpack('>IIII', d[:16])
            print(magic, n, h, w, sum(d[16:]), list(d[16 + 784 * 9999: 16 + 784 * 9999 + 784][300:310]), list(l[8:28]))
            """)
        let last = Array(test.images[784 * 9999 ..< 784 * 10_000][(784 * 9999 + 300) ..< (784 * 9999 + 310)])
        let labels = Array(test.labels.prefix(20))
        #expect(reference.trimmingCharacters(in: .whitespacesAndNewlines)
                == "2051 10000 28 28 \(test.images.reduce(0) { $0 + Int($1) }) \(last) \(labels)")
        // 32×32 in [−1, 1], the 2-pixel frame background.
        let small = try FashionMNIST(split: .test, limit: 3)
        let x = try small.tensor()
        #expect(x.shape == [3, 1, 32, 32])
        #expect(try x.min().item() == -1 && x.max().item() <= 1)
        #expect(try x.slice(dim: 2, 0 ..< 2).max().item() == -1)
        let pixel = try x.slice(dim: 0, 0 ..< 1).reshape(32, 32).slice(dim: 0, 2 + 10 ..< 2 + 11).slice(dim: 1, 2 + 14 ..< 2 + 15).item()
        #expect(abs(pixel - (Double(small.images[10 * 28 + 14]) / 127.5 - 1)) < 1e-6)
    }

    @Test func badFilesAreClearErrors() throws {
        #expect(throws: IDXError.notIDX("bad magic number")) { try IDX.parse(Data([1, 2, 3, 4, 5])) }
        #expect(throws: IDXError.unsupportedType(0x0D)) { try IDX.parse(Data([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0])) }
        #expect(throws: IDXError.truncated(expected: 6, got: 4)) { try IDX.parse(Data([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4])) }
        let ok = try IDX.parse(Data([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
        #expect(ok == IDXArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        // gzip: the same bytes compressed by Python, then cut short.
        let hex = try python("import gzip, sys; sys.stdout.write(gzip.compress(bytes([0,0,8,2,0,0,0,2,0,0,0,3,1,2,3,4,5,6])).hex())")
        let gz = Data(stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! })
        #expect(try IDX.parse(gz) == ok)
        #expect(throws: IDXError.self) { try IDX.parse(gz.prefix(gz.count - 12)) }
        var corrupt = gz
        corrupt[12] ^= 0xFF
        #expect(throws: IDXError.self) { try IDX.parse(corrupt) }
    }
}

@Suite(.serialized) struct DCGANTests {
    /// Shapes, output range and parameter counts equal the same networks built in PyTorch.
    @Test func networksMatchPyTorchSizes() throws {
        let config = DCGANConfig()
        let g = try Generator(config: config), d = try Discriminator(config: config)
        let images = try withNoGrad { try g(Tensor.randn([5, 100])) }
        #expect(images.shape == [5, 1, 32, 32])
        #expect(try images.abs().max().item() <= 1)
        #expect(try withNoGrad { try d(images) }.shape == [5])
        let benchmarks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("benchmarks").path
        let counts = try python("""
            import sys
            sys.path.insert(0, '\(benchmarks)')
            from gan_step import networks
            g, d = networks()
            print(sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters()))
            """)
        #expect(counts.trimmingCharacters(in: .whitespacesAndNewlines) == "\(g.store.parameterCount) \(d.store.parameterCount)")
        var colour = DCGANConfig()
        (colour.imageSize, colour.channels) = (64, 3)
        #expect(try withNoGrad { try Generator(config: colour)(Tensor.randn([2, 100])) }.shape == [2, 3, 64, 64])
    }

    /// On a one-image "dataset" the generator must learn to draw that image; the run writes its grids,
    /// plots and state, resumes after its last epoch, and the saved generator reloads.
    @Test func learnsAFixedImageAndResumes() throws {
        let run = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let one = try FashionMNIST(split: .test, limit: 1).tensor()                 // (1, 1, 32, 32)
        let images = try one.expand([64, 1, 32, 32]).contiguous()
        var options = GANTrainingOptions()
        (options.epochs, options.batchSize, options.samples, options.learningRate) = (2, 16, 16, 1e-3)
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures) = (16, 16)
        LibTorch.manualSeed(1)
        let before = try Generator(config: config)
        let initialError = try withNoGrad { try (before(Tensor.randn([16, 100])) - one).square().mean().item() }
        _ = try GANTrainer(options: options, config: config, images: images, runDirectory: run, log: { _ in }, progress: { _, _, _ in }).run(resume: false)
        options.epochs = 40
        var logs: [String] = []
        let result = try GANTrainer(options: options, config: config, images: images, runDirectory: run, log: { logs.append($0) },
                                    progress: { _, _, _ in }).run(resume: true)
        #expect(logs.first == "resuming after epoch 2")
        #expect(result.history.count == 40)
        for file in ["samples/epoch-001.png", "samples/epoch-040.png", "loss.png", "scores.png", "state.json", "generator.pt", "generator.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file)")
        }
        #expect(try RGBImage(contentsOf: run.appendingPathComponent("samples/epoch-040.png")).width == 8 * 34 + 2)
        let trained = try Generator(contentsOf: result.generatorFile)
        let error = try withNoGrad { try (trained(Tensor.randn([16, 100])) - one).square().mean().item() }
        #expect(error < initialError * 0.25, "mean squared error to the only training image \(initialError) → \(error)")
    }
}
