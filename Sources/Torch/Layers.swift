import Foundation

// Layers with PyTorch's parameter names and default initialisation, so that a model built here and
// the same model in Python share one state_dict layout.

/// y = x Wᵀ + b. x (…, in) → (…, out).
public final class Linear {
    public let weight: Tensor  // (out, in)
    public let bias: Tensor?   // (out)

    public init(_ path: ParameterPath, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear needs positive sizes")
        weight = try path.parameter("weight", shape: [outFeatures, inFeatures], initializer: .pytorchDefault(fanIn: inFeatures))
        self.bias = bias ? try path.parameter("bias", shape: [outFeatures], initializer: .pytorchDefault(fanIn: inFeatures)) : nil
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.linear(x, weight: weight, bias: bias)
    }
}

/// 2-D convolution. x (N, Cin, H, W) → (N, Cout, H', W').
public final class Conv2d {
    public let weight: Tensor  // (Cout, Cin / groups, k, k)
    public let bias: Tensor?
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(
        _ path: ParameterPath, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true
    ) throws {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels must divide into groups")
        let fanIn = inChannels / groups * kernelSize * kernelSize
        weight = try path.parameter("weight", shape: [outChannels, inChannels / groups, kernelSize, kernelSize],
                                    initializer: .pytorchDefault(fanIn: fanIn))
        self.bias = bias ? try path.parameter("bias", shape: [outChannels], initializer: .pytorchDefault(fanIn: fanIn)) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                              dilation: (dilation, dilation), groups: groups)
    }
}

/// Transposed 2-D convolution (the DCGAN generator's up-sampling). x (N, Cin, H, W) → (N, Cout, H', W')
/// with H' = (H − 1)·stride − 2·padding + kernel + outputPadding.
public final class ConvTranspose2d {
    public let weight: Tensor  // (Cin, Cout / groups, k, k)
    public let bias: Tensor?
    public let stride: Int, padding: Int, outputPadding: Int, groups: Int

    public init(
        _ path: ParameterPath, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, groups: Int = 1, bias: Bool = true
    ) throws {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels must divide into groups")
        // PyTorch computes fan-in from weight dim 1 for transposed convolutions.
        let fanIn = outChannels / groups * kernelSize * kernelSize
        weight = try path.parameter("weight", shape: [inChannels, outChannels / groups, kernelSize, kernelSize],
                                    initializer: .pytorchDefault(fanIn: fanIn))
        self.bias = bias ? try path.parameter("bias", shape: [outChannels], initializer: .pytorchDefault(fanIn: fanIn)) : nil
        (self.stride, self.padding, self.outputPadding, self.groups) = (stride, padding, outputPadding, groups)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.convTranspose2d(x, weight: weight, bias: bias, stride: (stride, stride),
                                       padding: (padding, padding), outputPadding: (outputPadding, outputPadding),
                                       groups: groups)
    }
}

/// Batch normalisation over (N, C, H, W) or (N, C). Buffers `running_mean`, `running_var` and
/// `num_batches_tracked` as in PyTorch; batch statistics in training mode, running ones in eval mode.
public final class BatchNorm {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor, batchesTracked: Tensor
    public let momentum: Double, eps: Double
    private let path: ParameterPath

    public init(_ path: ParameterPath, features: Int, momentum: Double = 0.1, eps: Double = 1e-5) throws {
        weight = try path.parameter("weight", shape: [features], initializer: .ones)
        bias = try path.parameter("bias", shape: [features], initializer: .zeros)
        runningMean = try path.buffer("running_mean", Tensor.zeros([features]))
        runningVar = try path.buffer("running_var", Tensor.ones([features]))
        batchesTracked = try path.buffer("num_batches_tracked", Tensor.scalar(0, dtype: .int64))
        (self.momentum, self.eps, self.path) = (momentum, eps, path)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let training = path.isTraining
        if training { try withNoGrad { try batchesTracked.add_(1) } }
        return try Functional.batchNorm(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                        training: training, momentum: momentum, eps: eps)
    }
}

/// Layer normalisation over the last dimensions.
public final class LayerNorm {
    public let weight: Tensor, bias: Tensor?
    public let shape: [Int], eps: Double

    public init(_ path: ParameterPath, shape: [Int], eps: Double = 1e-5, bias: Bool = true) throws {
        weight = try path.parameter("weight", shape: shape, initializer: .ones)
        self.bias = bias ? try path.parameter("bias", shape: shape, initializer: .zeros) : nil
        (self.shape, self.eps) = (shape, eps)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Functional.layerNorm(x, normalizedShape: shape, weight: weight, bias: bias, eps: eps)
    }
}

/// A lookup table of `count` vectors of size `dimension`. Indices (…) int64 → (…, dimension).
public final class Embedding {
    public let weight: Tensor  // (count, dimension)
    public let paddingIndex: Int?

    public init(_ path: ParameterPath, count: Int, dimension: Int, paddingIndex: Int? = nil) throws {
        let weight = try path.parameter("weight", shape: [count, dimension], initializer: .normal(std: 1))
        if let paddingIndex { try withNoGrad { try weight.select(dim: 0, index: paddingIndex).fill_(0) } }
        (self.weight, self.paddingIndex) = (weight, paddingIndex)
    }

    public func callAsFunction(_ indices: Tensor) throws -> Tensor {
        try Functional.embedding(indices, weight: weight, paddingIndex: paddingIndex)
    }
}

/// Dropout that follows the store's train/eval mode.
public struct Dropout {
    public let p: Double
    private let path: ParameterPath

    public init(_ path: ParameterPath, p: Double) {
        precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1)")
        (self.p, self.path) = (p, path)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        p == 0 ? x : try x.dropout(p, training: path.isTraining)
    }
}

/// Multi-head attention with PyTorch's `nn.MultiheadAttention` parameter layout (`in_proj_weight`,
/// `in_proj_bias`, `out_proj.weight`, `out_proj.bias`), batch-first tensors.
public final class MultiheadAttention {
    public let inProjWeight: Tensor  // (3E, E)
    public let inProjBias: Tensor    // (3E)
    public let outProj: Linear
    public let embedDim: Int, heads: Int, dropout: Double
    private let path: ParameterPath

    public init(_ path: ParameterPath, embedDim: Int, heads: Int, dropout: Double = 0) throws {
        precondition(embedDim % heads == 0, "embedding width \(embedDim) must divide into \(heads) heads")
        // xavier_uniform_ on in_proj_weight, as PyTorch does.
        let bound = (6.0 / Double(embedDim + 3 * embedDim)).squareRoot()
        inProjWeight = try path.parameter("in_proj_weight", shape: [3 * embedDim, embedDim], initializer: .uniform(-bound, bound))
        inProjBias = try path.parameter("in_proj_bias", shape: [3 * embedDim], initializer: .zeros)
        let outProj = try Linear(path / "out_proj", inFeatures: embedDim, outFeatures: embedDim)
        try withNoGrad { try outProj.bias?.fill_(0) }
        self.outProj = outProj
        (self.embedDim, self.heads, self.dropout, self.path) = (embedDim, heads, dropout, path)
    }

    /// query (B, Tq, E), key and value (B, Tk, E).
    /// - `attentionMask`: bool (Tq, Tk), true where attention is forbidden (e.g. `Functional.causalMask`).
    /// - `keyPaddingMask`: bool (B, Tk), true at padding positions of the keys.
    /// Returns (B, Tq, E) and the head-averaged weights (B, Tq, Tk).
    public func callAsFunction(
        query: Tensor, key: Tensor, value: Tensor, attentionMask: Tensor? = nil, keyPaddingMask: Tensor? = nil
    ) throws -> (output: Tensor, weights: Tensor) {
        let (b, tq, e) = (query.shape[0], query.shape[1], query.shape[2])
        let tk = key.shape[1]
        precondition(e == embedDim, "query width \(e) differs from the layer's \(embedDim)")
        let d = embedDim / heads
        func project(_ x: Tensor, _ part: Int) throws -> Tensor {
            let (w, bias) = try projection(part)
            return try splitHeads(Functional.linear(x, weight: w, bias: bias))  // (B, H, T, D)
        }
        let q = try project(query, 0), k = try project(key, 1), v = try project(value, 2)
        var mask: Tensor? = nil
        if let attentionMask { mask = try attentionMask.reshape(1, 1, tq, tk) }
        if let keyPaddingMask {
            let padding = try keyPaddingMask.reshape(b, 1, 1, tk)
            mask = try mask.map { try $0.logicalOr(padding) } ?? padding
        }
        let (attended, weights) = try Functional.scaledDotProductAttention(
            query: q, key: k, value: v, mask: mask, dropout: dropout, training: path.isTraining)  // (B, H, Tq, D)
        let merged = try attended.transpose(1, 2).reshape(b, tq, e)  // (B, Tq, E)
        return (try outProj(merged), try weights.mean(dims: [1]))
    }

    /// Rows `part` (0 = query, 1 = key, 2 = value) of the packed input projection: weight (E, E), bias (E).
    public func projection(_ part: Int) throws -> (weight: Tensor, bias: Tensor) {
        precondition((0 ... 2).contains(part), "projection part is 0 (query), 1 (key) or 2 (value)")
        let e = embedDim
        return (try inProjWeight.slice(dim: 0, part * e ..< (part + 1) * e), try inProjBias.slice(dim: 0, part * e ..< (part + 1) * e))
    }

    /// (B, T, E) → (B, H, T, D).
    public func splitHeads(_ x: Tensor) throws -> Tensor {
        try x.reshape(x.shape[0], x.shape[1], heads, embedDim / heads).transpose(1, 2)
    }

}
