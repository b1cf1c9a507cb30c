import Foundation
import Testing
@testable import Imaging
import Torch

func ramp(_ c: Int, _ h: Int, _ w: Int) throws -> Tensor {
    try Tensor.arange(0, Double(c * h * w), dtype: .float32).reshape(c, h, w) / Double(c * h * w)
}

struct TransformTests {
    @Test func areaResizeAveragesBlocks() throws {
        let x = try Tensor([Float(0), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], shape: [1, 4, 4])
        let y = try Transforms.resize(x, height: 2, width: 2, mode: .area)
        #expect(try y.floats() == [2.5, 4.5, 10.5, 12.5])
    }

    @Test func bilinearResizeMatchesHalfPixelCentres() throws {
        // Enlarging [0, 1] to 4 samples with align_corners = false: 0, 0.25, 0.75, 1.
        let x = try Tensor([Float(0), 1], shape: [1, 1, 2])
        let y = try Transforms.resize(x, height: 1, width: 4, mode: .bilinear)
        expectClose(try y.floats(), [0, 0.25, 0.75, 1])
        let big = try ramp(3, 40, 60)
        #expect(try Transforms.resize(big, height: 10, width: 15).shape == [3, 10, 15])
        #expect(try Transforms.resizeShorterSide(big, to: 20).shape == [3, 20, 30])
    }

    @Test func centreCropAndPadToSquare() throws {
        let x = try Tensor.arange(0, 20, dtype: .float32).reshape(1, 4, 5)
        let crop = try Transforms.centerCrop(x, height: 2, width: 3)
        #expect(try crop.floats() == [6, 7, 8, 11, 12, 13])
        let wide = try Tensor.zeros([3, 2, 6])
        let square = try Transforms.padToSquare(wide)
        #expect(square.shape == [3, 6, 6])
        #expect(try square.slice(dim: 1, 0 ..< 2).min().item() == 1)  // white bands above
        #expect(try square.slice(dim: 1, 2 ..< 4).max().item() == 0)  // the image in the middle
        #expect(try square.slice(dim: 1, 4 ..< 6).min().item() == 1)  // and below
    }

    @Test func normaliseUsesChannelStatistics() throws {
        let x = try Tensor.full([2, 3, 2, 2], 0.5)
        let n = try Transforms.normalize(x)
        let values = try n.floats()
        for c in 0 ..< 3 {
            let expected = (0.5 - Transforms.imagenetMean[c]) / Transforms.imagenetStd[c]
            #expect(abs(values[c * 4] - expected) < 1e-6)
        }
        expectClose(try Transforms.denormalize(n).floats(), try x.floats())
    }

    @Test func batchPipelineShapes() throws {
        let images = try ["rgb8.png", "baseline.jpg", "exif6.jpg"].map { try RGBImage(contentsOf: image($0)) }
        let batch = try Transforms.batch(images, size: 32)
        #expect(batch.shape == [3, 3, 32, 32])
    }
}

struct AugmentationTests {
    @Test func sameSeedSameAugmentation() throws {
        let x = try ramp(3, 48, 64)
        var config = Augmenter.Config()
        config.outputSize = 32
        let augment = Augmenter(config: config)
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9), c = SplitMix64(seed: 10)
        let first = try augment(x, using: &a).floats()
        let second = try augment(x, using: &b).floats()
        let other = try augment(x, using: &c).floats()
        #expect(first == second)
        #expect(first != other)
        #expect(first.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func rotationByNinetyDegreesIsExact() throws {
        let x = try ramp(1, 4, 4)
        let rotated = try Augmenter().rotate(x, degrees: 90)
        // Counter-clockwise: the top row becomes the left column read bottom-up = rot90(k = 1).
        let expected = try x.transpose(1, 2).flip([1])
        expectClose(try rotated.floats(), try expected.floats(), tolerance: 1e-5)
    }

    @Test func rotationFillsCornersWhite() throws {
        let x = try Tensor.zeros([3, 32, 32])
        let rotated = try Augmenter().rotate(x, degrees: 45)
        #expect(try rotated.select(dim: 1, index: 0).select(dim: 1, index: 0).min().item() > 0.99)  // corner
        #expect(try rotated.select(dim: 1, index: 16).select(dim: 1, index: 16).max().item() < 0.01)  // centre
    }

    @Test func flipMirrorsColumns() throws {
        let x = try Tensor([Float(1), 2, 3], shape: [1, 1, 3])
        #expect(try Augmenter().horizontalFlip(x).floats() == [3, 2, 1])
    }

    @Test func colourJitterChangesOnlyColour() throws {
        var config = Augmenter.Config()
        (config.brightness, config.contrast, config.saturation, config.hue) = (0, 0, 0, 0)
        let x = try ramp(3, 8, 8)
        var rng = SplitMix64(seed: 1)
        expectClose(try Augmenter(config: config).colorJitter(x, using: &rng).floats(), try x.floats())
        // A gray image keeps equal channels under hue rotation.
        let gray = try Tensor.full([3, 2, 2], 0.4)
        let rotated = try Augmenter.rotateHue(gray, by: 0.25)
        expectClose(try rotated.floats(), try gray.floats(), tolerance: 2e-3)
    }

    @Test func randomResizedCropOutputSize() throws {
        var config = Augmenter.Config()
        config.outputSize = 24
        var rng = SplitMix64(seed: 3)
        #expect(try Augmenter(config: config).randomResizedCrop(ramp(3, 50, 70), using: &rng).shape == [3, 24, 24])
    }
}

func expectClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "max difference \(worst)", sourceLocation: sourceLocation)
}
