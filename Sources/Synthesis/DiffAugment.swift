import Foundation
import Torch

/// Differentiable augmentation (Zhao et al. 2020, "DiffAugment"): every image the discriminator sees —
/// real and generated alike, in both networks' steps — gets a random colour change, translation and
/// cutout, each drawn per image. Gradients flow through it to the generator. With a few hundred training
/// images (the catalogue) the discriminator otherwise memorises the real set within an epoch and the
/// generator gets no useful signal.
public enum DiffAugment {
    /// images (N, C, S, S) in [−1, 1] → the same shape.
    public static func apply(_ x: Tensor) throws -> Tensor {
        precondition(x.shape.count == 4 && x.shape[2] == x.shape[3], "images are (N, C, S, S)")
        return try cutout(translate(colour(x)))
    }

    /// Brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5] (the paper's `color` policy).
    static func colour(_ x: Tensor) throws -> Tensor {
        let n = x.shape[0]
        var y = try x + (Tensor.rand([n, 1, 1, 1]) - 0.5)
        let channelMean = try y.mean(dims: [1], keepDim: true)
        y = try (y - channelMean) * (Tensor.rand([n, 1, 1, 1]) * 2) + channelMean
        let imageMean = try y.mean(dims: [1, 2, 3], keepDim: true)
        return try (y - imageMean) * (Tensor.rand([n, 1, 1, 1]) + 0.5) + imageMean
    }

    /// Shifts each image by up to ⅛ of its side in x and y, filling with 0 (the paper's `translation`),
    /// by an affine grid (nearest sampling keeps the pixels).
    static func translate(_ x: Tensor, ratio: Double = 0.125) throws -> Tensor {
        let n = x.shape[0]
        let shift = try (Tensor.rand([n, 2]) * 2 - 1) * (2 * ratio)      // (N, 2) in normalised units (2 = the side)
        let identity = try Tensor([Float(1), 0, 0, 0, 1, 0], shape: [1, 2, 3]).expand([n, 2, 3])
        let offsets = try Tensor.cat([Tensor.zeros([n, 2, 2]), shift.unsqueeze(2)], dim: 2)  // (N, 2, 3)
        let grid = try Functional.affineGrid(identity + offsets, size: x.shape)
        return try Functional.gridSample(x, grid: grid, nearest: true, padding: .zeros)
    }

    /// Zeroes one square of half the side per image at a random centre (the paper's `cutout`).
    static func cutout(_ x: Tensor, ratio: Double = 0.5) throws -> Tensor {
        let (n, s) = (x.shape[0], x.shape[2])
        let half = Double(s) * ratio / 2
        let centre = try Tensor.rand([n, 2]) * Double(s)                             // (N, 2) pixels
        let coords = try Tensor.arange(0, Double(s), dtype: .float32) + 0.5          // (S)
        let insideY = try (coords.reshape(1, s) - centre.slice(dim: 1, 0 ..< 1)).abs().lt(half)  // (N, S)
        let insideX = try (coords.reshape(1, s) - centre.slice(dim: 1, 1 ..< 2)).abs().lt(half)  // (N, S)
        let square = try insideY.unsqueeze(2).logicalAnd(insideX.unsqueeze(1))       // (N, S, S)
        let keep = try (1 - square.to(.float32)).unsqueeze(1)                         // (N, 1, S, S)
        return try x * keep
    }
}
