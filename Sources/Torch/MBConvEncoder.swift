import CTorch

/// An MBConv encoder (EfficientNet-Lite) run on oneDNN directly by the shim (`lt_mbconv_*`), for
/// inference: each convolution one oneDNN primitive with its bias, ReLU6 or residual sum fused in and its
/// "SAME" padding inside, the weights reordered once, activations channels-last throughout. The
/// libtorch-operator path (`FoldedEncoder.encodeWithOperators`) is the reference it is tested against.
/// A snapshot: the weights are copied when it is built.
///
/// Not thread-safe: one `encode` at a time (like `Tensor`).
public final class MBConvEncoder {
    public enum Kind: Int32 {
        case stem, expand, depthwise, project, head
    }

    /// One convolution, batch norm folded in.
    public struct Layer {
        public let weight: Tensor  // (Cout, Cin / groups, k, k)
        public let bias: Tensor    // (Cout)
        public let stride: Int, groups: Int
        public let kind: Kind
        /// PROJECT only: add the block's input.
        public let residual: Bool
        /// PROJECT only: record the spatial mean of the block's output (the head's always is).
        public let tap: Bool

        public init(weight: Tensor, bias: Tensor, stride: Int, groups: Int, kind: Kind, residual: Bool = false, tap: Bool = false) {
            precondition(kind == .project || !(residual || tap), "only a block's projection adds its input or is tapped")
            (self.weight, self.bias, self.stride, self.groups, self.kind, self.residual, self.tap) = (weight, bias, stride, groups, kind, residual, tap)
        }
    }

    private let handle: lt_mbconv

    /// - layers: the stem, then per block an optional expansion, the depthwise convolution and the
    ///   projection, then the head.
    public init(layers: [Layer]) throws {
        precondition(layers.count >= 2, "a stem and a head at least")
        var out: lt_mbconv? = nil
        let strides = layers.map { Int32($0.stride) }, groups = layers.map { Int32($0.groups) }
        let kinds = layers.map { Int32($0.kind.rawValue) }
        let flags = layers.map { Int32(($0.residual ? LT_MBCONV_RESIDUAL : 0) | ($0.tap ? LT_MBCONV_TAP : 0)) }
        try withHandles(layers.map(\.weight)) { weights, n in
            try withHandles(layers.map(\.bias)) { biases, _ in
                try check(lt_mbconv_new(weights, biases, strides, groups, kinds, flags, n, &out))
            }
        }
        handle = out!
    }

    deinit { lt_mbconv_free(handle) }

    /// x (N, 3, H, W) → the head's grid (N, C, H', W') in channels-last strides, and the taps' spatial
    /// means concatenated (N, ΣC).
    public func encode(_ x: Tensor) throws -> (grid: Tensor, pooled: Tensor) {
        var grid: lt_tensor? = nil, pooled: lt_tensor? = nil
        try check(lt_mbconv_encode(handle, x.handle, &grid, &pooled))
        return (Tensor(owning: grid!), Tensor(owning: pooled!))
    }
}
