import Foundation
import Torch

/// `EfficientNetLite` prepared for inference, the same function to float rounding:
/// - every batch norm folded into the convolution before it: w' = w·s, b' = β − μ·s with
///   s = γ / √(σ² + ε) per output channel (the encoder always normalises with its running statistics,
///   also while fine-tuning, so this holds in every encoder mode);
/// - TensorFlow "SAME" padding handed to the convolution where it is symmetric (stride 1), and padded
///   explicitly only where it is not (the stride-2 convolutions);
/// - activations kept channels-last (NHWC), the layout oneDNN's convolution kernels run in, so no
///   layer converts between layouts.
/// Three fewer passes over every activation per block. A snapshot: weights are copied when it is built
/// (the Drafter builds one per model). (README, captioner speed.)
///
/// `encode` runs it as one oneDNN primitive per convolution (`MBConvEncoder`: ReLU6, residual sums and
/// the stride-2 padding fused into the convolutions, weights reordered once); `encodeWithOperators`
/// runs the same folded layers as libtorch operators, the reference it is tested against.
public final class FoldedEncoder {
    /// A convolution with its batch norm folded in.
    struct Conv {
        let weight: Tensor  // (Cout, Cin / groups, k, k), channels-last
        let bias: Tensor    // (Cout)
        let kernel: Int, stride: Int, groups: Int

        init(_ conv: Conv2d, _ norm: BatchNorm) throws {
            precondition(conv.bias == nil && conv.dilation == 1, "EfficientNet-Lite convolutions have no bias and no dilation")
            let scale = try norm.weight / (norm.runningVar + norm.eps).sqrt()                  // (Cout)
            weight = try (conv.weight * scale.reshape(-1, 1, 1, 1)).contiguousChannelsLast()
            bias = try norm.bias - norm.runningMean * scale
            (kernel, stride, groups) = (conv.weight.shape[2], conv.stride, conv.groups)
        }

        /// "SAME" convolution: output ⌈in / stride⌉, the odd pixel of padding at the bottom/right.
        func callAsFunction(_ x: Tensor) throws -> Tensor {
            let ph = samePadding(x.shape[2], kernel: kernel, stride: stride), pw = samePadding(x.shape[3], kernel: kernel, stride: stride)
            if ph % 2 == 0 && pw % 2 == 0 {
                return try Functional.conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (ph / 2, pw / 2),
                                             groups: groups)
            }
            let padded = try x.pad([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])
            return try Functional.conv2d(padded, weight: weight, bias: bias, stride: (stride, stride), groups: groups)
        }
    }

    struct Block {
        let expand: Conv?, depthwise: Conv, project: Conv
        let residual: Bool
    }

    let stem: Conv, blocks: [Block], head: Conv
    let stageEnds: Set<Int>
    let fused: MBConvEncoder

    public init(_ encoder: EfficientNetLite) throws {
        (stem, head) = try withNoGrad { (try Conv(encoder.stem, encoder.stemNorm), try Conv(encoder.head, encoder.headNorm)) }
        blocks = try withNoGrad {
            try encoder.blocks.map { b in
                Block(expand: try b.expand.map { try Conv($0.0, $0.1) }, depthwise: try Conv(b.depthwise, b.depthwiseNorm),
                      project: try Conv(b.project, b.projectNorm), residual: b.residual)
            }
        }
        stageEnds = encoder.stageEnds
        func layer(_ c: Conv, _ kind: MBConvEncoder.Kind, residual: Bool = false, tap: Bool = false) -> MBConvEncoder.Layer {
            MBConvEncoder.Layer(weight: c.weight, bias: c.bias, stride: c.stride, groups: c.groups, kind: kind, residual: residual, tap: tap)
        }
        var layers = [layer(stem, .stem)]
        for (i, block) in blocks.enumerated() {
            if let expand = block.expand { layers.append(layer(expand, .expand)) }
            layers.append(layer(block.depthwise, .depthwise))
            layers.append(layer(block.project, .project, residual: block.residual, tap: stageEnds.contains(i)))
        }
        layers.append(layer(head, .head))
        fused = try MBConvEncoder(layers: layers)
    }

    /// The same as `EfficientNetLite.encode`: (N, 3, H, W) → the head's grid (N, 1280, H/32, W/32) (in
    /// channels-last strides) and the pooled multi-scale vector (N, pooledWidth). No gradients.
    public func encode(_ x: Tensor) throws -> (grid: Tensor, pooled: Tensor) {
        try withNoGrad { try fused.encode(x) }
    }

    /// `encode` as libtorch operators, one per convolution, activation, padding and residual sum.
    public func encodeWithOperators(_ x: Tensor) throws -> (grid: Tensor, pooled: Tensor) {
        try withNoGrad {
            var h = try stem(x.contiguousChannelsLast()).relu6()  // (N, 32, H/2, W/2)
            var taps: [Tensor] = []
            for (i, block) in blocks.enumerated() {
                var y = h
                if let expand = block.expand { y = try expand(y).relu6() }  // (N, C·e, H, W)
                y = try block.project(block.depthwise(y).relu6())             // (N, C', H/s, W/s)
                h = block.residual ? try y + h : y
                if stageEnds.contains(i) { taps.append(try h.mean(dims: [2, 3])) }  // (N, C_stage)
            }
            let grid = try head(h).relu6()  // (N, 1280, H/32, W/32)
            taps.append(try grid.mean(dims: [2, 3]))
            return (grid, try Tensor.cat(taps, dim: 1))
        }
    }
}
