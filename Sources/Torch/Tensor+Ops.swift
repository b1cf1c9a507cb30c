import CTorch

// Element-wise arithmetic, comparisons, shape and reduction operations. Every operation throws a
// `TorchError` carrying libtorch's message (a broadcast or shape mismatch, a wrong dtype).

extension Tensor {
    @inline(__always)
    func unary(_ op: lt_unary_op) throws -> Tensor {
        try make { lt_unary(Int32(op.rawValue), handle, $0) }
    }

    @inline(__always)
    func binary(_ op: lt_binary_op, _ other: Tensor) throws -> Tensor {
        try make { lt_binary(Int32(op.rawValue), handle, other.handle, $0) }
    }

    @inline(__always)
    func binary(_ op: lt_binary_op, _ scalar: Double) throws -> Tensor {
        try make { lt_binary_scalar(Int32(op.rawValue), handle, scalar, $0) }
    }

    // MARK: arithmetic with broadcasting

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(LT_ADD, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(LT_SUB, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(LT_MUL, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(LT_DIV, b) }
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.binary(LT_ADD, s) }
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.binary(LT_SUB, s) }
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.binary(LT_MUL, s) }
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.binary(LT_DIV, s) }
    public static func + (s: Double, a: Tensor) throws -> Tensor { try a.binary(LT_ADD, s) }
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.binary(LT_MUL, s) }
    public static func - (s: Double, a: Tensor) throws -> Tensor { try a.neg().binary(LT_ADD, s) }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.neg() }

    public func pow(_ exponent: Double) throws -> Tensor { try binary(LT_POW, exponent) }
    public func pow(_ exponent: Tensor) throws -> Tensor { try binary(LT_POW, exponent) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(LT_MAXIMUM, other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(LT_MINIMUM, other) }
    public func remainder(_ s: Double) throws -> Tensor { try binary(LT_REMAINDER, s) }
    public func floorDivide(_ s: Double) throws -> Tensor { try binary(LT_FLOOR_DIVIDE, s) }
    public func atan2(_ other: Tensor) throws -> Tensor { try binary(LT_ATAN2, other) }
    /// Matrix product with broadcasting over batch dimensions, as `torch.matmul`.
    public func matmul(_ other: Tensor) throws -> Tensor { try binary(LT_MATMUL, other) }

    public func neg() throws -> Tensor { try unary(LT_NEG) }
    public func exp() throws -> Tensor { try unary(LT_EXP) }
    public func log() throws -> Tensor { try unary(LT_LOG) }
    public func log1p() throws -> Tensor { try unary(LT_LOG1P) }
    public func sqrt() throws -> Tensor { try unary(LT_SQRT) }
    public func rsqrt() throws -> Tensor { try unary(LT_RSQRT) }
    public func abs() throws -> Tensor { try unary(LT_ABS) }
    public func square() throws -> Tensor { try unary(LT_SQUARE) }
    public func reciprocal() throws -> Tensor { try unary(LT_RECIPROCAL) }
    public func sin() throws -> Tensor { try unary(LT_SIN) }
    public func cos() throws -> Tensor { try unary(LT_COS) }
    public func floor() throws -> Tensor { try unary(LT_FLOOR) }
    public func ceil() throws -> Tensor { try unary(LT_CEIL) }
    public func round() throws -> Tensor { try unary(LT_ROUND) }
    public func sign() throws -> Tensor { try unary(LT_SIGN) }
    public func isNaN() throws -> Tensor { try unary(LT_ISNAN) }
    public func isFinite() throws -> Tensor { try unary(LT_ISFINITE) }

    public func clamp(min lo: Double? = nil, max hi: Double? = nil) throws -> Tensor {
        try make { lt_clamp(handle, lo ?? 0, hi ?? 0, lo == nil ? 0 : 1, hi == nil ? 0 : 1, $0) }
    }

    // MARK: comparisons and masks (results are bool tensors)

    public func eq(_ o: Tensor) throws -> Tensor { try binary(LT_EQ, o) }
    public func ne(_ o: Tensor) throws -> Tensor { try binary(LT_NE, o) }
    public func lt(_ o: Tensor) throws -> Tensor { try binary(LT_LT, o) }
    public func le(_ o: Tensor) throws -> Tensor { try binary(LT_LE, o) }
    public func gt(_ o: Tensor) throws -> Tensor { try binary(LT_GT, o) }
    public func ge(_ o: Tensor) throws -> Tensor { try binary(LT_GE, o) }
    public func eq(_ s: Double) throws -> Tensor { try binary(LT_EQ, s) }
    public func ne(_ s: Double) throws -> Tensor { try binary(LT_NE, s) }
    public func lt(_ s: Double) throws -> Tensor { try binary(LT_LT, s) }
    public func le(_ s: Double) throws -> Tensor { try binary(LT_LE, s) }
    public func gt(_ s: Double) throws -> Tensor { try binary(LT_GT, s) }
    public func ge(_ s: Double) throws -> Tensor { try binary(LT_GE, s) }
    public func logicalAnd(_ o: Tensor) throws -> Tensor { try binary(LT_LOGICAL_AND, o) }
    public func logicalOr(_ o: Tensor) throws -> Tensor { try binary(LT_LOGICAL_OR, o) }
    public func logicalNot() throws -> Tensor { try unary(LT_LOGICAL_NOT) }

    /// `condition ? a : b`, element-wise with broadcasting.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try make { lt_where(condition.handle, a.handle, b.handle, $0) }
    }

    /// A copy with `value` wherever `mask` (bool, broadcastable) is true.
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try make { lt_masked_fill(handle, mask.handle, value, $0) }
    }

    /// The elements where `mask` is true, flattened.
    public func maskedSelect(_ mask: Tensor) throws -> Tensor {
        try make { lt_masked_select(handle, mask.handle, $0) }
    }

    // MARK: conversion and graph

    public func to(_ dtype: DType) throws -> Tensor { try make { lt_to_dtype(handle, dtype.rawValue, $0) } }
    /// The same values without autograd history.
    public func detach() throws -> Tensor { try make { lt_detach(handle, $0) } }
    public func clone() throws -> Tensor { try make { lt_clone(handle, $0) } }
    public func contiguous() throws -> Tensor { try make { lt_contiguous(handle, $0) } }
    /// The same values with channels-last (NHWC) strides, the shape unchanged: 4-d tensors only.
    public func contiguousChannelsLast() throws -> Tensor { try make { lt_contiguous_channels_last(handle, $0) } }
    public var isChannelsLast: Bool { lt_is_channels_last(handle) != 0 }
    /// A second Swift owner of the same libtorch tensor (shared storage and autograd identity).
    public func alias() throws -> Tensor { try make { lt_tensor_shallow_clone(handle, $0) } }

    // MARK: in place (optimizers, EMA, running statistics); call under `withNoGrad` on parameters

    public func copy_(_ source: Tensor) throws { try check(lt_inplace(Int32(LT_INPLACE_COPY.rawValue), handle, source.handle, 1)) }
    public func add_(_ other: Tensor, alpha: Double = 1) throws { try check(lt_inplace(Int32(LT_INPLACE_ADD.rawValue), handle, other.handle, alpha)) }
    public func sub_(_ other: Tensor, alpha: Double = 1) throws { try check(lt_inplace(Int32(LT_INPLACE_SUB.rawValue), handle, other.handle, alpha)) }
    public func mul_(_ other: Tensor) throws { try check(lt_inplace(Int32(LT_INPLACE_MUL.rawValue), handle, other.handle, 1)) }
    public func fill_(_ value: Double) throws { try check(lt_inplace_scalar(Int32(LT_INPLACE_FILL.rawValue), handle, value)) }
    public func add_(_ value: Double) throws { try check(lt_inplace_scalar(Int32(LT_INPLACE_ADD_SCALAR.rawValue), handle, value)) }
    public func mul_(_ value: Double) throws { try check(lt_inplace_scalar(Int32(LT_INPLACE_MUL_SCALAR.rawValue), handle, value)) }
    public func normal_(mean: Double = 0, std: Double = 1) throws { try check(lt_normal_(handle, mean, std)) }
    public func uniform_(_ lo: Double, _ hi: Double) throws { try check(lt_uniform_(handle, lo, hi)) }

    // MARK: shape

    /// `-1` infers one dimension, as in `torch.reshape`.
    public func reshape(_ shape: [Int]) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_reshape(handle, d, n, $0) } }
    }
    public func reshape(_ shape: Int...) throws -> Tensor { try reshape(shape) }
    public func permute(_ dims: [Int]) throws -> Tensor {
        try withInt64s(dims) { d, n in try make { lt_permute(handle, d, n, $0) } }
    }
    public func permute(_ dims: Int...) throws -> Tensor { try permute(dims) }
    public func transpose(_ d0: Int, _ d1: Int) throws -> Tensor {
        try make { lt_transpose(handle, Int64(d0), Int64(d1), $0) }
    }
    public func squeeze(_ dim: Int) throws -> Tensor { try make { lt_squeeze(handle, Int64(dim), $0) } }
    public func unsqueeze(_ dim: Int) throws -> Tensor { try make { lt_unsqueeze(handle, Int64(dim), $0) } }
    public func expand(_ shape: [Int]) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_expand(handle, d, n, $0) } }
    }
    public func repeated(_ repeats: [Int]) throws -> Tensor {
        try withInt64s(repeats) { d, n in try make { lt_repeat(handle, d, n, $0) } }
    }
    public func flatten(from start: Int = 0, through end: Int = -1) throws -> Tensor {
        try make { lt_flatten(handle, Int64(start), Int64(end), $0) }
    }
    public func flip(_ dims: [Int]) throws -> Tensor {
        try withInt64s(dims) { d, n in try make { lt_flip(handle, d, n, $0) } }
    }
    public func tril(_ diagonal: Int = 0) throws -> Tensor { try make { lt_tril(handle, Int64(diagonal), $0) } }
    public func triu(_ diagonal: Int = 0) throws -> Tensor { try make { lt_triu(handle, Int64(diagonal), $0) } }

    /// Elements `start..<end` (negative values count from the end) every `step` along `dim`.
    public func slice(dim: Int, start: Int = 0, end: Int = Int(Int64.max), step: Int = 1) throws -> Tensor {
        try make { lt_slice(handle, Int64(dim), Int64(start), Int64(end), Int64(step), $0) }
    }
    public func slice(dim: Int, _ range: Range<Int>) throws -> Tensor {
        try slice(dim: dim, start: range.lowerBound, end: range.upperBound)
    }
    /// Index `index` along `dim`, removing that dimension.
    public func select(dim: Int, index: Int) throws -> Tensor {
        try make { lt_select(handle, Int64(dim), Int64(index), $0) }
    }
    public subscript(index: Int) -> Tensor {
        get throws { try select(dim: 0, index: index) }
    }
    public func indexSelect(dim: Int, index: Tensor) throws -> Tensor {
        try make { lt_index_select(handle, Int64(dim), index.handle, $0) }
    }
    public func gather(dim: Int, index: Tensor) throws -> Tensor {
        try make { lt_gather(handle, Int64(dim), index.handle, $0) }
    }

    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try withHandles(tensors) { p, n in try make { lt_cat(p, n, Int64(dim), $0) } }
    }
    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try withHandles(tensors) { p, n in try make { lt_stack(p, n, Int64(dim), $0) } }
    }

    public enum PadMode: Int32, Sendable { case constant = 0, reflect = 1, replicate = 2 }

    /// Pads the last dimensions; `padding` lists (before, after) pairs starting from the last dimension,
    /// as `torch.nn.functional.pad`.
    public func pad(_ padding: [Int], mode: PadMode = .constant, value: Double = 0) throws -> Tensor {
        try withInt64s(padding) { p, n in try make { lt_pad(handle, p, n, mode.rawValue, value, $0) } }
    }

    // MARK: reductions (an empty `dims` reduces over everything)

    func reduce(_ op: lt_reduce_op, _ dims: [Int], _ keepDim: Bool) throws -> Tensor {
        try withInt64s(dims) { d, n in try make { lt_reduce(Int32(op.rawValue), handle, d, n, keepDim ? 1 : 0, $0) } }
    }

    public func sum(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_SUM, dims, keepDim) }
    public func mean(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_MEAN, dims, keepDim) }
    public func max(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_AMAX, dims, keepDim) }
    public func min(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_AMIN, dims, keepDim) }
    public func prod(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_PROD, dims, keepDim) }
    /// Unbiased (n − 1) standard deviation, as `torch.std`.
    public func std(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_STD, dims, keepDim) }
    public func variance(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_VAR, dims, keepDim) }
    public func logSumExp(dims: [Int], keepDim: Bool = false) throws -> Tensor { try reduce(LT_LOGSUMEXP, dims, keepDim) }
    public func all(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_ALL, dims, keepDim) }
    public func any(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_ANY, dims, keepDim) }
    /// The L2 norm.
    public func norm(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(LT_NORM, dims, keepDim) }

    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try make { lt_argmax(handle, Int64(dim), keepDim ? 1 : 0, $0) }
    }
    public func argmin(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try make { lt_argmin(handle, Int64(dim), keepDim ? 1 : 0, $0) }
    }
    /// The `k` largest (or smallest) values along `dim` and their indices.
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true, sorted: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        try make2 { lt_topk(handle, Int64(k), Int64(dim), largest ? 1 : 0, sorted ? 1 : 0, $0, $1) }
    }
    public func sort(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        try make2 { lt_sort(handle, Int64(dim), descending ? 1 : 0, $0, $1) }
    }
    /// Eigendecomposition of a symmetric matrix (its lower triangle is read): ascending eigenvalues and
    /// the eigenvectors as columns.
    public func symmetricEigen() throws -> (values: Tensor, vectors: Tensor) {
        try make2 { lt_linalg_eigh(handle, $0, $1) }
    }
    public func cumsum(dim: Int) throws -> Tensor { try make { lt_cumsum(handle, Int64(dim), $0) } }
    /// Samples indices from each row of non-negative weights.
    public func multinomial(samples: Int, replacement: Bool = false) throws -> Tensor {
        try make { lt_multinomial(handle, Int64(samples), replacement ? 1 : 0, $0) }
    }
}
