import Foundation
import Torch

/// A small, fast, seedable generator (SplitMix64) so that augmentation is reproducible: the same seed
/// gives the same crops, angles and colour changes on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Training augmentations, all computed in libtorch on (3, H, W) float32 tensors in [0, 1]:
/// random resized crop, horizontal flip, rotation (filled white), and colour jitter (brightness,
/// contrast, saturation, hue). Parameters are drawn from a `SplitMix64` seeded by the caller.
public struct Augmenter: Sendable {
    public struct Config: Codable, Sendable, Equatable {
        public var outputSize = 224
        /// Area fraction and aspect-ratio range of the random crop (torchvision's defaults).
        public var cropScale: ClosedRange<Double> = 0.6 ... 1.0
        public var cropRatio: ClosedRange<Double> = (3.0 / 4.0) ... (4.0 / 3.0)
        public var flipProbability = 0.5
        /// Rotation in degrees, uniform in ±maxRotation.
        public var maxRotation = 15.0
        public var brightness = 0.2
        public var contrast = 0.2
        public var saturation = 0.2
        /// Hue shift as a fraction of the colour wheel, uniform in ±hue (≤ 0.5).
        public var hue = 0.03
        public init() {}
    }

    public let config: Config
    public init(config: Config = Config()) { self.config = config }

    /// Applies every augmentation in order: crop → flip → rotate → colour.
    public func callAsFunction<G: RandomNumberGenerator>(_ image: Tensor, using rng: inout G) throws -> Tensor {
        var x = try randomResizedCrop(image, using: &rng)
        if Double.random(in: 0 ..< 1, using: &rng) < config.flipProbability { x = try horizontalFlip(x) }
        if config.maxRotation > 0 {
            x = try rotate(x, degrees: Double.random(in: -config.maxRotation ... config.maxRotation, using: &rng))
        }
        return try colorJitter(x, using: &rng)
    }

    public func randomResizedCrop<G: RandomNumberGenerator>(_ image: Tensor, using rng: inout G) throws -> Tensor {
        let (h, w) = (image.shape[1], image.shape[2])
        let area = Double(h * w)
        // torchvision's procedure: ten tries at a crop of random area and log-uniform aspect ratio,
        // falling back to the central crop.
        for _ in 0 ..< 10 {
            let target = area * Double.random(in: config.cropScale, using: &rng)
            let logRatio = Double.random(in: Foundation.log(config.cropRatio.lowerBound) ... Foundation.log(config.cropRatio.upperBound), using: &rng)
            let ratio = Foundation.exp(logRatio)
            let cw = Int((target * ratio).squareRoot().rounded()), ch = Int((target / ratio).squareRoot().rounded())
            if cw > 0, ch > 0, cw <= w, ch <= h {
                let top = Int.random(in: 0 ... h - ch, using: &rng), left = Int.random(in: 0 ... w - cw, using: &rng)
                let crop = try image.slice(dim: 1, top ..< top + ch).slice(dim: 2, left ..< left + cw)
                return try Transforms.resize(crop, height: config.outputSize, width: config.outputSize)
            }
        }
        let side = min(h, w)
        return try Transforms.resize(Transforms.centerCrop(image, height: side, width: side),
                                     height: config.outputSize, width: config.outputSize)
    }

    public func horizontalFlip(_ image: Tensor) throws -> Tensor { try image.flip([image.rank - 1]) }

    /// Rotates counter-clockwise by `degrees` about the centre; uncovered corners are filled with `fill`.
    public func rotate(_ image: Tensor, degrees: Double, fill: Double = 1) throws -> Tensor {
        let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
        let a = degrees * Double.pi / 180
        let (cosA, sinA) = (Foundation.cos(a), Foundation.sin(a))
        // affine_grid maps output coordinates to input coordinates in [-1, 1]; account for aspect ratio.
        let theta = try Tensor([Float(cosA), Float(-sinA * Double(h) / Double(w)), 0,
                                Float(sinA * Double(w) / Double(h)), Float(cosA), 0], shape: [1, 2, 3])
        let grid = try Functional.affineGrid(theta, size: [1, c, h, w])
        // Sample image − fill with zero padding, then add fill back: outside pixels become `fill`.
        let shifted = try image.unsqueeze(0) - fill
        return try (Functional.gridSample(shifted, grid: grid, padding: .zeros) + fill).squeeze(0).clamp(min: 0, max: 1)
    }

    public func colorJitter<G: RandomNumberGenerator>(_ image: Tensor, using rng: inout G) throws -> Tensor {
        var x = image
        func factor(_ amount: Double) -> Double {
            amount > 0 ? Double.random(in: max(0, 1 - amount) ... 1 + amount, using: &rng) : 1
        }
        let b = factor(config.brightness), c = factor(config.contrast), s = factor(config.saturation)
        let hShift = config.hue > 0 ? Double.random(in: -config.hue ... config.hue, using: &rng) : 0
        x = try (x * b).clamp(min: 0, max: 1)
        // Contrast: blend with the mean gray level; saturation: blend with the grayscale image.
        let gray = try Self.grayscale(x)
        x = try (x * c + gray.mean() * (1 - c)).clamp(min: 0, max: 1)
        x = try (x * s + Self.grayscale(x) * (1 - s)).clamp(min: 0, max: 1)
        if hShift != 0 { x = try Self.rotateHue(x, by: hShift) }
        return x
    }

    /// ITU-R 601 luma, (1, H, W).
    static func grayscale(_ image: Tensor) throws -> Tensor {
        let weights = try Tensor([Float(0.299), 0.587, 0.114], shape: [3, 1, 1])
        return try (image * weights).sum(dims: [0], keepDim: true)
    }

    /// Rotates hue by `fraction` of a turn in YIQ space (a linear map, cheap on whole images).
    static func rotateHue(_ image: Tensor, by fraction: Double) throws -> Tensor {
        let a = 2 * Double.pi * fraction
        let (u, w) = (Foundation.cos(a), Foundation.sin(a))
        // RGB → YIQ → rotate IQ by a → RGB, folded into one 3×3 matrix.
        let toYIQ: [[Double]] = [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
        let toRGB: [[Double]] = [[1, 0.956, 0.621], [1, -0.272, -0.647], [1, -1.106, 1.703]]
        let rot: [[Double]] = [[1, 0, 0], [0, u, -w], [0, w, u]]
        func mul(_ p: [[Double]], _ q: [[Double]]) -> [[Double]] {
            (0 ..< 3).map { i in (0 ..< 3).map { j in (0 ..< 3).reduce(0) { $0 + p[i][$1] * q[$1][j] } } }
        }
        let m = mul(toRGB, mul(rot, toYIQ))
        let matrix = try Tensor(m.flatMap { $0.map(Float.init) }, shape: [3, 3])
        let (c, h, wd) = (image.shape[0], image.shape[1], image.shape[2])
        return try matrix.matmul(image.reshape(c, h * wd)).reshape(c, h, wd).clamp(min: 0, max: 1)
    }
}
