import Foundation
import Torch

/// Geometric and photometric transforms on image tensors, done in libtorch (no Swift pixel loops).
/// Single images are (C, H, W) float32 in [0, 1]; batches are (N, C, H, W).
public enum Transforms {
    public enum ResizeMode: Sendable {
        /// Averages the source area: the right filter for shrinking (PIL's BOX / torch's `area`).
        case area
        /// Bilinear; antialiased when shrinking, like PIL and torchvision ≥ 0.13.
        case bilinear
    }

    /// ImageNet channel statistics, which ImageNet-pretrained encoders expect.
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// Resizes to exactly `height` × `width`.
    public static func resize(_ image: Tensor, height: Int, width: Int, mode: ResizeMode = .bilinear) throws -> Tensor {
        precondition(height > 0 && width > 0, "resize target must be positive")
        let batched = image.rank == 3
        let x = batched ? try image.unsqueeze(0) : image
        let shrinking = height < x.shape[2] || width < x.shape[3]
        let y: Tensor
        switch mode {
        case .area:
            // adaptive average pooling is exact area averaging only when shrinking; enlarge bilinearly.
            y = shrinking && height <= x.shape[2] && width <= x.shape[3]
                ? try Functional.interpolate(x, size: (height, width), mode: .area)
                : try Functional.interpolate(x, size: (height, width), mode: .bilinear)
        case .bilinear:
            y = try Functional.interpolate(x, size: (height, width), mode: .bilinear, antialias: shrinking)
        }
        return batched ? try y.squeeze(0) : y
    }

    /// Resizes so the shorter side is `size`, keeping the aspect ratio.
    public static func resizeShorterSide(_ image: Tensor, to size: Int, mode: ResizeMode = .bilinear) throws -> Tensor {
        let (h, w) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
        let scale = Double(size) / Double(min(h, w))
        return try resize(image, height: max(1, Int((Double(h) * scale).rounded())),
                          width: max(1, Int((Double(w) * scale).rounded())), mode: mode)
    }

    /// The central `height` × `width` window (padding with `fill` where the image is smaller).
    public static func centerCrop(_ image: Tensor, height: Int, width: Int, fill: Double = 1) throws -> Tensor {
        let (h, w) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
        var x = image
        if h < height || w < width {
            let padH = max(0, height - h), padW = max(0, width - w)
            x = try x.pad([padW / 2, padW - padW / 2, padH / 2, padH - padH / 2], value: fill)
        }
        let (H, W) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        // torchvision rounds the offset: int(round((H - h) / 2)).
        let top = Int((Double(H - height) / 2).rounded()), left = Int((Double(W - width) / 2).rounded())
        return try x.slice(dim: x.rank - 2, top ..< top + height).slice(dim: x.rank - 1, left ..< left + width)
    }

    /// Pads the shorter side equally on both sides with `fill` (white by default, a studio background).
    public static func padToSquare(_ image: Tensor, fill: Double = 1) throws -> Tensor {
        let (h, w) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
        guard h != w else { return image }
        let side = max(h, w)
        let padH = side - h, padW = side - w
        return try image.pad([padW / 2, padW - padW / 2, padH / 2, padH - padH / 2], value: fill)
    }

    /// (x − mean) / std per channel; x (C, H, W) or (N, C, H, W).
    public static func normalize(_ image: Tensor, mean: [Float] = imagenetMean, std: [Float] = imagenetStd) throws -> Tensor {
        let c = image.shape[image.rank - 3]
        precondition(mean.count == c && std.count == c, "mean/std need \(c) channels")
        let shape = image.rank == 4 ? [1, c, 1, 1] : [c, 1, 1]
        return try (image - Tensor(mean, shape: shape)) / Tensor(std, shape: shape)
    }

    /// Inverse of `normalize`, for writing a normalised tensor as a picture.
    public static func denormalize(_ image: Tensor, mean: [Float] = imagenetMean, std: [Float] = imagenetStd) throws -> Tensor {
        let c = image.shape[image.rank - 3]
        let shape = image.rank == 4 ? [1, c, 1, 1] : [c, 1, 1]
        return try image * Tensor(std, shape: shape) + Tensor(mean, shape: shape)
    }

    /// The usual inference pipeline: pad to square (white), resize to `size` × `size`, normalise →
    /// (N, 3, size, size) for a batch of decoded images.
    public static func batch(_ images: [RGBImage], size: Int, mean: [Float] = imagenetMean,
                             std: [Float] = imagenetStd) throws -> Tensor {
        precondition(!images.isEmpty, "a batch needs at least one image")
        let tensors = try images.map { try resize(padToSquare($0.tensor()), height: size, width: size, mode: .bilinear) }
        return try normalize(Tensor.stack(tensors), mean: mean, std: std)
    }
}
