import CTorch

/// Element types Loupe uses. Raw values are the shim's `lt_dtype` codes.
public enum DType: Int32, Sendable, CustomStringConvertible {
    case float32 = 0, float64 = 1, int64 = 2, int32 = 3, uint8 = 4, bool = 5, float16 = 6, bfloat16 = 7
    case int8 = 8, int16 = 9

    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .uint8, .bool, .int8: 1
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 || self == .float16 || self == .bfloat16 }

    public var description: String {
        switch self {
        case .float32: "float32"
        case .float64: "float64"
        case .int64: "int64"
        case .int32: "int32"
        case .uint8: "uint8"
        case .bool: "bool"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int8: "int8"
        case .int16: "int16"
        }
    }
}

/// Swift scalar types that map one-to-one onto a tensor element type.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }

/// Hands a value that is not `Sendable` (tensors, a model, a drafter) from one thread to another where
/// the code guarantees the two never use it at once: a hand-off after which the sender lets go, or
/// threads that each touch only their own part of it.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// An owned libtorch tensor. The handle is freed in `deinit`.
///
/// Tensors are not thread-safe values (libtorch's are shared, mutable storage): keep a model inside one
/// actor or task and pass plain Swift values across isolation boundaries.
public final class Tensor {
    let handle: lt_tensor

    init(owning handle: lt_tensor) { self.handle = handle }

    deinit { lt_tensor_free(handle) }

    // MARK: inspection

    public var rank: Int { Int(lt_tensor_dim(handle)) }

    public var shape: [Int] {
        let n = rank
        guard n > 0 else { return [] }
        var dims = [Int64](repeating: 0, count: n)
        dims.withUnsafeMutableBufferPointer { lt_tensor_shape(handle, $0.baseAddress) }
        return dims.map { Int($0) }
    }

    public var dtype: DType {
        // Types outside DType (complex, quantised) never come out of Loupe's own code.
        DType(rawValue: lt_tensor_dtype(handle)) ?? .float32
    }

    public var count: Int { Int(lt_tensor_numel(handle)) }

    public var requiresGrad: Bool { lt_tensor_requires_grad(handle) != 0 }

    /// Marks a leaf tensor as a trainable parameter (or not).
    @discardableResult
    public func requiresGrad(_ flag: Bool) throws -> Tensor {
        try check(lt_tensor_set_requires_grad(handle, flag ? 1 : 0))
        return self
    }

    // MARK: creation

    /// A tensor holding a copy of `values` laid out row-major in `shape`.
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]) throws {
        let expected = shape.reduce(1, *)
        guard expected == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw TorchError("\(values.count) values do not fill shape \(shape)")
        }
        var out: lt_tensor? = nil
        try values.withUnsafeBytes { raw in
            try withInt64s(shape) { dims, n in
                try check(lt_from_data(raw.baseAddress, T.dtype.rawValue, dims, n, &out))
            }
        }
        self.init(owning: out!)
    }

    /// A one-dimensional tensor of `values`.
    public convenience init<T: TensorElement>(_ values: [T]) throws {
        try self.init(values, shape: [values.count])
    }

    /// A tensor made from raw little-endian bytes of the given element type.
    public static func fromBytes(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws -> Tensor {
        let expected = shape.reduce(1, *) * dtype.byteSize
        guard bytes.count == expected else {
            throw TorchError("\(bytes.count) bytes do not fill shape \(shape) of \(dtype)")
        }
        return try withInt64s(shape) { dims, n in
            try make { lt_from_data(bytes.baseAddress, dtype.rawValue, dims, n, $0) }
        }
    }

    public static func scalar(_ value: Double, dtype: DType = .float32) throws -> Tensor {
        try make { lt_scalar_tensor(value, dtype.rawValue, $0) }
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_zeros(d, n, dtype.rawValue, $0) } }
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_ones(d, n, dtype.rawValue, $0) } }
    }

    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_full(d, n, value, dtype.rawValue, $0) } }
    }

    /// Standard normal samples from libtorch's global generator (see `LibTorch.manualSeed`).
    public static func randn(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_randn(d, n, dtype.rawValue, $0) } }
    }

    /// Uniform samples in [0, 1).
    public static func rand(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_rand(d, n, dtype.rawValue, $0) } }
    }

    /// Integers uniform in [low, high), int64.
    public static func randint(_ low: Int, _ high: Int, shape: [Int]) throws -> Tensor {
        try withInt64s(shape) { d, n in try make { lt_randint(Int64(low), Int64(high), d, n, $0) } }
    }

    public static func randperm(_ n: Int) throws -> Tensor {
        try make { lt_randperm(Int64(n), $0) }
    }

    /// `[start, end)` in steps of `step`; int64 by default like `torch.arange` on integers.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .int64) throws -> Tensor {
        try make { lt_arange(start, end, step, dtype.rawValue, $0) }
    }

    public static func linspace(_ start: Double, _ end: Double, steps: Int, dtype: DType = .float32) throws -> Tensor {
        try make { lt_linspace(start, end, Int64(steps), dtype.rawValue, $0) }
    }

    public static func eye(_ n: Int, dtype: DType = .float32) throws -> Tensor {
        try make { lt_eye(Int64(n), dtype.rawValue, $0) }
    }

    public func zerosLike() throws -> Tensor { try Tensor.zeros(shape, dtype: dtype) }
    public func onesLike() throws -> Tensor { try Tensor.ones(shape, dtype: dtype) }

    /// A copy of `self` viewed with explicit strides from `offset` (used to rebuild pickled tensors).
    public func asStridedCopy(shape: [Int], strides: [Int], offset: Int) throws -> Tensor {
        precondition(shape.count == strides.count, "shape and strides differ in rank")
        return try withInt64s(shape) { d, n in
            try withInt64s(strides) { s, _ in try make { lt_as_strided_copy(handle, d, n, s, Int64(offset), $0) } }
        }
    }

    // MARK: reading values back

    /// Every element, converted to `T`, in row-major order.
    public func scalars<T: TensorElement>(as type: T.Type = T.self) throws -> [T] {
        let n = count
        return try [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            try check(lt_tensor_copy_to(handle, T.dtype.rawValue, UnsafeMutableRawPointer(buffer.baseAddress),
                                        n * MemoryLayout<T>.stride))
            initialized = n
        }
    }

    public func floats() throws -> [Float] { try scalars(as: Float.self) }
    public func doubles() throws -> [Double] { try scalars(as: Double.self) }
    public func int64s() throws -> [Int64] { try scalars(as: Int64.self) }
    public func ints() throws -> [Int] { try scalars(as: Int64.self).map { Int($0) } }
    public func bools() throws -> [Bool] { try scalars(as: Bool.self) }

    /// The value of a one-element tensor.
    public func item() throws -> Double {
        var value = 0.0
        try check(lt_tensor_item_double(handle, &value))
        return value
    }

    /// Raw row-major bytes converted to `dtype`.
    public func bytes(as dtype: DType) throws -> [UInt8] {
        let n = count * dtype.byteSize
        return try [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            try check(lt_tensor_copy_to(handle, dtype.rawValue, UnsafeMutableRawPointer(buffer.baseAddress), n))
            initialized = n
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        var text: UnsafeMutablePointer<CChar>? = nil
        guard lt_tensor_to_string(handle, &text) == nil, let text else { return "Tensor(\(shape), \(dtype))" }
        defer { lt_error_free(text) }
        return String(cString: text)
    }
}
