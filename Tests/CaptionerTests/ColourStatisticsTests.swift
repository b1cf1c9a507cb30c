@testable import Captioner
import Catalog
import Foundation
import Imaging
import Testing
import Torch

/// The colour statistics the attribute heads read (`Functional.colourStatistics`, computed in the shim)
/// against the NumPy reference (scripts/reference/colour_statistics.py), on hand-checkable images, and
/// wired into the model: appended to the pooled features by both encoders, standardised, saved.
@Suite struct ColourStatisticsTests {
    /// A white photo with a pure red square of `side` pixels at (top, left).
    static func redSquare(size: Int, side: Int, top: Int, left: Int) throws -> Tensor {
        var pixels = [Float](repeating: 1, count: 3 * size * size)
        for y in top ..< top + side {
            for x in left ..< left + side {
                pixels[1 * size * size + y * size + x] = 0
                pixels[2 * size * size + y * size + x] = 0
            }
        }
        return try Tensor(pixels, shape: [1, 3, size, size])
    }

    @Test func aRedSquareOnWhiteHasTheStatisticsWorkedOutByHand() throws {
        let s = try Functional.colourStatistics(Self.redSquare(size: 40, side: 10, top: 5, left: 20)).to(.float64).doubles()
        #expect(s.count == Functional.colourStatisticsWidth)
        func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-5 }
        // Background white, chromaticity a third each (less the 1e-3 guard).
        #expect(s[0 ..< 3].allSatisfy { near($0, 1) } && s[3 ..< 6].allSatisfy { near($0, 1 / 3.001) })
        // The piece is the 100 red pixels: chromaticity r = 1 / 1.001 lies outside the r range [0.2, 0.6],
        // so the chromaticity histogram is empty, and every piece pixel has brightness 1 (last bin, closed).
        #expect(s[6 ..< 106].allSatisfy { $0 == 0 })
        #expect(s[106 ..< 115].allSatisfy { $0 == 0 } && s[115] == 1)
        // Quantiles, mean and deviation of pure red; mean relative to the background.
        let quantiles = Array(s[116 ..< 134])
        for q in 0 ..< 6 { #expect(near(quantiles[q * 3], 1) && near(quantiles[q * 3 + 1], 0) && near(quantiles[q * 3 + 2], 0)) }
        #expect(near(s[143], 1) && near(s[144], 0) && near(s[146], 0) && near(s[149], 1 / 1.001) && near(s[152], 1 / 1.001))
        // Hue 0, saturation 1, value 1: 100 pixels in hue bin 0 of all six (saturation, value) floors.
        for h in 0 ..< 6 {
            let histogram = Array(s[155 + h * 24 ..< 155 + (h + 1) * 24])
            #expect(near(histogram[0], log1p(100)) && histogram.dropFirst().allSatisfy { $0 == 0 }, "hue histogram \(h)")
        }
        // The 1,500 white pixels are unsaturated with value 1: the grey histogram's last bin.
        #expect(near(s[308], log1p(1500)) && s[299 ..< 308].allSatisfy { $0 == 0 })
    }

    /// Two committed renders (a sapphire ring on the studio sweep, a pearl brooch), the same render
    /// flipped and darkened, and a nearly blank photo (fewer than 50 piece pixels: the 500 farthest are
    /// the piece) as the encoder sees them, against NumPy.
    @Test func matchesTheNumPyReference() throws {
        let catalogue = repositoryRoot.appendingPathComponent("Fixtures/catalogue/images")
        var photos = try ["fx-2026-000000.jpg", "fx-2026-000014.jpg"].map {
            try Drafter.preprocess(RGBImage(contentsOf: catalogue.appendingPathComponent($0)), size: 224)
        }.map { try EfficientNetLite.denormalize($0) }
        photos.append(try photos[0].flip([2]) * 0.6)
        photos.append(try Self.redSquare(size: 224, side: 5, top: 100, left: 60).squeeze(0))
        // Noise: ~50 k distinct values spread over [0, 1] (the quantiles' bucketed selection at its busiest),
        // with a bright outlier block so most values crowd into a few buckets.
        LibTorch.manualSeed(3)
        let noise = try Tensor.rand([3, 224, 224]) * 0.05 + 0.4
        try noise.slice(dim: 1, 0 ..< 8).slice(dim: 2, 0 ..< 8).fill_(1)
        photos.append(noise)
        let images = try Tensor.stack(photos)  // (5, 3, 224, 224)
        let statistics = try Functional.colourStatistics(images)
        #expect(statistics.shape == [5, Functional.colourStatisticsWidth])
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("images.pt"), output = directory.appendingPathComponent("reference.pt")
        try Checkpoint.save([(name: "images", tensor: images)], to: input)
        try python("""
            import sys, numpy as np, torch, colour_statistics as C
            x = torch.load(sys.argv[1])["images"].permute(0, 2, 3, 1).double().numpy()
            torch.save({"statistics": torch.tensor(np.stack([C.colour_statistics(i) for i in x]))}, sys.argv[2])
            """, [input.path, output.path])
        let reference = try #require(Checkpoint.load(from: output).first?.tensor)
        let difference = try (statistics.to(.float64) - reference).abs().max().item()
        // float32 output of values up to log(1 + 50,176) ≈ 10.8.
        #expect(difference < 1e-5, "max |Δ| \(difference)")
        // Not a vacuous match: the photos differ from each other.
        #expect(try (reference.slice(dim: 0, 0 ..< 1) - reference.slice(dim: 0, 2 ..< 3)).abs().max().item() > 0.1)
    }

    @Test func rejectsWhatIsNotABatchOfRGBImages() {
        #expect(throws: TorchError.self) { try Functional.colourStatistics(Tensor.zeros([3, 8, 8])) }
        #expect(throws: TorchError.self) { try Functional.colourStatistics(Tensor.zeros([1, 1, 8, 8])) }
        #expect(throws: TorchError.self) { try Functional.colourStatistics(Tensor.zeros([1, 3, 1, 8])) }
    }

    static func colourModel() throws -> CaptionModel {
        var config = tinyConfig(texts: ["a ring in <metal>"])
        config.colourFields = CaptionerConfig.defaultColourFields(config.fields)
        let model = try CaptionModel(config: config)
        try model.loadPretrainedEncoder(from: liteWeights)
        model.store.eval()
        return model
    }

    /// Both encoders append the statistics of the photo they were given; the colour fields' heads
    /// standardise them with the buffers, which the model file keeps; category's head does not read them.
    @Test func theHeadsReadStandardisedStatisticsThatTheModelFileKeeps() throws {
        let model = try Self.colourModel()
        LibTorch.manualSeed(5)
        let pixels = try Tensor.rand([3, 3, 64, 64])
        let input = try EfficientNetLite.normalize(pixels)
        let features = try withNoGrad { try model.encode(input) }
        let p = model.encoder.pooledWidth
        #expect(features.pooled.shape == [3, p + Functional.colourStatisticsWidth] && model.headInputWidth == p + Functional.colourStatisticsWidth)
        let raw = try Functional.colourStatistics(pixels)
        #expect(try (features.pooled.slice(dim: 1, p ..< model.headInputWidth) - raw).abs().max().item() < 1e-4)
        let drafter = Drafter(model: model)
        let folded = try drafter.encode(input)
        #expect(try (folded.pooled - features.pooled).abs().max().item() < 1e-3)

        // Standardisation from the statistics of "training" photos, then the logits depend on it.
        #expect(model.config.colourFields == ["metal", "gemstone", "style", "finish"])
        let before = try withNoGrad { try model.attributeLogits(features) }
        try model.standardiseColourStatistics(from: raw)
        #expect(try (model.colour!.mean - raw.mean(dims: [0])).abs().max().item() < 1e-6)
        let logits = try withNoGrad { try model.attributeLogits(features) }
        let after = logits["metal"]!
        #expect(try (after - before["metal"]!).abs().max().item() > 1e-3)
        #expect(try (logits["gemstone"]! - before["gemstone"]!).abs().max().item() > 1e-3)
        #expect(try (logits["category"]! - before["category"]!).abs().max().item() == 0)
        // Category's logits are those of the pooled features alone, whatever the statistics say.
        let blind = ImageFeatures(grid: features.grid, pooled: try Tensor.cat([features.pooled.slice(dim: 1, 0 ..< p),
                                                                             Tensor.zeros([3, Functional.colourStatisticsWidth])], dim: 1))
        #expect(try (withNoGrad { try model.attributeLogits(blind)["category"]! } - logits["category"]!).abs().max().item() == 0)

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("model.pt")
        try Checkpoint.save(model.store, config: model.config, to: file)
        let loaded = try Drafter(contentsOf: file)
        #expect(loaded.model.config.usesColourStatistics)
        #expect(try (loaded.model.colour!.std - model.colour!.std).abs().max().item() == 0)
        loaded.model.store.eval()
        let reloaded = try withNoGrad { try loaded.model.attributeLogits(features)["metal"]! }
        #expect(try (reloaded - after).abs().max().item() < 1e-5)
    }

    /// A model saved before colour statistics existed (no `colourFields` in its JSON) loads without them.
    @Test func olderModelConfigsReadAsWithoutColourStatistics() throws {
        let config = tinyConfig(texts: ["a ring in <metal>"])
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
        json.removeValue(forKey: "colourFields")
        let decoded = try JSONDecoder().decode(CaptionerConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(!decoded.usesColourStatistics)
        let model = try CaptionModel(config: decoded)
        #expect(model.headInputWidth == model.encoder.pooledWidth && model.colour == nil)
    }
}
