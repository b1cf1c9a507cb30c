import CTorch

/// How a loss reduces over the batch.
public enum Reduction: Int32, Sendable { case none = 0, mean = 1, sum = 2 }

public enum Interpolation: Int32, Sendable {
    case nearest = 0, bilinear = 1, bicubic = 2
    /// Averaging over the source area (`mode="area"`): the right choice when shrinking.
    case area = 3
}

// MARK: activations and normalisation

extension Tensor {
    public func relu() throws -> Tensor { try unary(LT_RELU) }
    public func relu6() throws -> Tensor { try unary(LT_RELU6) }
    public func tanh() throws -> Tensor { try unary(LT_TANH) }
    public func sigmoid() throws -> Tensor { try unary(LT_SIGMOID) }
    /// The exact (erf) GELU; `approximate: true` is the tanh form used by GPT-2.
    public func gelu(approximate: Bool = false) throws -> Tensor { try unary(approximate ? LT_GELU_TANH : LT_GELU) }
    public func silu() throws -> Tensor { try unary(LT_SILU) }
    public func hardswish() throws -> Tensor { try unary(LT_HARDSWISH) }
    public func hardsigmoid() throws -> Tensor { try unary(LT_HARDSIGMOID) }
    public func leakyRelu(_ slope: Double = 0.01) throws -> Tensor { try make { lt_leaky_relu(handle, slope, $0) } }
    public func softmax(dim: Int) throws -> Tensor { try make { lt_softmax(handle, Int64(dim), $0) } }
    public func logSoftmax(dim: Int) throws -> Tensor { try make { lt_log_softmax(handle, Int64(dim), $0) } }
    /// Inverted dropout: active only when `training` is true.
    public func dropout(_ p: Double, training: Bool) throws -> Tensor {
        try make { lt_dropout(handle, p, training ? 1 : 0, $0) }
    }
}

/// Stateless neural-network functions; layers in `Layers.swift` hold the parameters.
public enum Functional {
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try make { lt_linear(x.handle, weight.handle, bias?.handle, $0) }
    }

    /// x (N, Cin, H, W), weight (Cout, Cin / groups, kH, kW).
    public static func conv2d(
        _ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) throws -> Tensor {
        try withInt64s([stride.0, stride.1, padding.0, padding.1, dilation.0, dilation.1]) { p, _ in
            try make { lt_conv2d(x.handle, weight.handle, bias?.handle, p, p! + 2, p! + 4, Int64(groups), $0) }
        }
    }

    /// x (N, Cin, H, W), weight (Cin, Cout / groups, kH, kW).
    public static func convTranspose2d(
        _ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        outputPadding: (Int, Int) = (0, 0), groups: Int = 1, dilation: (Int, Int) = (1, 1)
    ) throws -> Tensor {
        try withInt64s([stride.0, stride.1, padding.0, padding.1, outputPadding.0, outputPadding.1,
                        dilation.0, dilation.1]) { p, _ in
            try make {
                lt_conv_transpose2d(x.handle, weight.handle, bias?.handle, p, p! + 2, p! + 4, Int64(groups), p! + 6, $0)
            }
        }
    }

    /// In training mode normalises with batch statistics and updates the running buffers in place.
    public static func batchNorm(
        _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?, training: Bool,
        momentum: Double = 0.1, eps: Double = 1e-5
    ) throws -> Tensor {
        try make {
            lt_batch_norm(x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle,
                          training ? 1 : 0, momentum, eps, $0)
        }
    }

    public static func layerNorm(
        _ x: Tensor, normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Double = 1e-5
    ) throws -> Tensor {
        try withInt64s(normalizedShape) { s, n in
            try make { lt_layer_norm(x.handle, s, n, weight?.handle, bias?.handle, eps, $0) }
        }
    }

    public static func maxPool2d(
        _ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0), ceilMode: Bool = false
    ) throws -> Tensor {
        let s = stride ?? kernel
        return try withInt64s([kernel.0, kernel.1, s.0, s.1, padding.0, padding.1]) { p, _ in
            try make { lt_max_pool2d(x.handle, p, p! + 2, p! + 4, ceilMode ? 1 : 0, $0) }
        }
    }

    public static func avgPool2d(
        _ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
        ceilMode: Bool = false, countIncludePad: Bool = true
    ) throws -> Tensor {
        let s = stride ?? kernel
        return try withInt64s([kernel.0, kernel.1, s.0, s.1, padding.0, padding.1]) { p, _ in
            try make { lt_avg_pool2d(x.handle, p, p! + 2, p! + 4, ceilMode ? 1 : 0, countIncludePad ? 1 : 0, $0) }
        }
    }

    public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
        try withInt64s([outputSize.0, outputSize.1]) { p, _ in try make { lt_adaptive_avg_pool2d(x.handle, p, $0) } }
    }

    public static func adaptiveMaxPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
        try withInt64s([outputSize.0, outputSize.1]) { p, _ in try make { lt_adaptive_max_pool2d(x.handle, p, $0) } }
    }

    /// Rows of `weight` picked by integer `indices`; the row `paddingIndex` gets no gradient.
    public static func embedding(_ indices: Tensor, weight: Tensor, paddingIndex: Int? = nil) throws -> Tensor {
        try make { lt_embedding(weight.handle, indices.handle, Int64(paddingIndex ?? -1), $0) }
    }

    /// Resizes (N, C, H, W) to (N, C, size.0, size.1). `antialias` applies to bilinear and bicubic.
    public static func interpolate(
        _ x: Tensor, size: (Int, Int), mode: Interpolation = .bilinear, alignCorners: Bool = false,
        antialias: Bool = false
    ) throws -> Tensor {
        try withInt64s([size.0, size.1]) { p, _ in
            try make { lt_interpolate(x.handle, p, mode.rawValue, alignCorners ? 1 : 0, antialias ? 1 : 0, $0) }
        }
    }

    /// Values per photo of `colourStatistics`.
    public static let colourStatisticsWidth = Int(LT_COLOUR_STATISTICS)

    /// Colour statistics of photos (N, 3, H, W) in [0, 1], RGB → (N, colourStatisticsWidth) float32: the
    /// background's colour, histograms, quantiles and moments of the piece's colour, and hue histograms of
    /// saturated pixels (layout and NumPy reference: scripts/reference/colour_statistics.py). Not
    /// differentiable; computed per image in the shim.
    public static func colourStatistics(_ images: Tensor) throws -> Tensor {
        try make { lt_colour_statistics(images.handle, $0) }
    }

    /// Sampling grid (N, H, W, 2) for 2-D affine matrices `theta` (N, 2, 3).
    public static func affineGrid(_ theta: Tensor, size: [Int], alignCorners: Bool = false) throws -> Tensor {
        try withInt64s(size) { s, n in try make { lt_affine_grid(theta.handle, s, n, alignCorners ? 1 : 0, $0) } }
    }

    public enum GridPadding: Int32, Sendable { case zeros = 0, border = 1, reflection = 2 }

    public static func gridSample(
        _ x: Tensor, grid: Tensor, nearest: Bool = false, padding: GridPadding = .zeros, alignCorners: Bool = false
    ) throws -> Tensor {
        try make { lt_grid_sample(x.handle, grid.handle, nearest ? 1 : 0, padding.rawValue, alignCorners ? 1 : 0, $0) }
    }

    // MARK: attention

    /// softmax(q kᵀ / √d + masks) v for q (…, Tq, D), k (…, Tk, D), v (…, Tk, Dv).
    /// `mask` is a bool tensor broadcastable to (…, Tq, Tk), true where attention is *not* allowed
    /// (the causal mask and key padding, combined by the caller or by `MultiheadAttention`).
    public static func scaledDotProductAttention(
        query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, dropout: Double = 0, training: Bool = false
    ) throws -> (output: Tensor, weights: Tensor) {
        let d = Double(query.shape.last ?? 1)
        var scores = try query.matmul(key.transpose(-2, -1)) / d.squareRoot()  // (…, Tq, Tk)
        if let mask { scores = try scores.maskedFill(mask, -Double.infinity) }
        var weights = try scores.softmax(dim: -1)
        if dropout > 0 { weights = try weights.dropout(dropout, training: training) }
        return (try weights.matmul(value), weights)  // (…, Tq, Dv)
    }

    /// A (T, T) bool mask that is true above the diagonal: position t may attend to positions ≤ t.
    public static func causalMask(_ length: Int) throws -> Tensor {
        try Tensor.ones([length, length], dtype: .bool).triu(1)
    }

    // MARK: losses

    /// logits (N, C) or (N, C, d…) against class indices (N) or (N, d…). Targets equal to
    /// `ignoreIndex` contribute nothing; `labelSmoothing` mixes the target with the uniform distribution.
    public static func crossEntropy(
        _ logits: Tensor, target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean,
        ignoreIndex: Int = -100, labelSmoothing: Double = 0
    ) throws -> Tensor {
        try make {
            lt_cross_entropy(logits.handle, target.handle, weight?.handle, reduction.rawValue, Int64(ignoreIndex),
                             labelSmoothing, $0)
        }
    }

    /// Numerically stable binary cross-entropy on logits; targets are probabilities in [0, 1].
    public static func binaryCrossEntropyWithLogits(
        _ logits: Tensor, target: Tensor, weight: Tensor? = nil, positiveWeight: Tensor? = nil,
        reduction: Reduction = .mean
    ) throws -> Tensor {
        try make {
            lt_bce_with_logits(logits.handle, target.handle, weight?.handle, positiveWeight?.handle,
                               reduction.rawValue, $0)
        }
    }

    public static func mseLoss(_ x: Tensor, target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
        try make { lt_mse_loss(x.handle, target.handle, reduction.rawValue, $0) }
    }

    public static func l1Loss(_ x: Tensor, target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
        try make { lt_l1_loss(x.handle, target.handle, reduction.rawValue, $0) }
    }
}

// MARK: autograd

extension Tensor {
    /// Back-propagates from a scalar (or from `self` weighted by `gradient`).
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try check(lt_backward(handle, gradient?.handle, retainGraph ? 1 : 0))
    }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    public var grad: Tensor? {
        var out: lt_tensor? = nil
        guard lt_grad(handle, &out) == nil, let out else { return nil }
        return Tensor(owning: out)
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() throws { try check(lt_zero_grad(handle)) }
}

/// Rescales the gradients of `parameters` so that their joint L2 norm is at most `maxNorm`;
/// returns the norm before clipping (as `torch.nn.utils.clip_grad_norm_`).
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
    var total = 0.0
    try withHandles(parameters) { p, n in try check(lt_clip_grad_norm(p, n, maxNorm, &total)) }
    return total
}
