import CTorch

/// A libtorch failure (a shape mismatch, an unreadable file, a bad argument) carried into Swift with
/// libtorch's own message. Thrown at once by every wrapper; no handle is leaked on the error path.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "libtorch: \(message)" }
}

/// Turns a shim status (NULL or an owned message) into a thrown `TorchError`, freeing the message.
@inline(__always)
func check(_ error: lt_error?) throws {
    guard let error else { return }
    let message = String(cString: error)
    lt_error_free(error)
    throw TorchError(message)
}

/// Runs a creating shim call and wraps its owned handle.
@inline(__always)
func make(_ body: (UnsafeMutablePointer<lt_tensor?>) -> lt_error?) throws -> Tensor {
    var out: lt_tensor? = nil
    try check(body(&out))
    guard let out else { throw TorchError("shim returned no tensor") }
    return Tensor(owning: out)
}

/// Runs a creating shim call that produces two tensors (values and indices).
@inline(__always)
func make2(
    _ body: (UnsafeMutablePointer<lt_tensor?>, UnsafeMutablePointer<lt_tensor?>) -> lt_error?
) throws -> (Tensor, Tensor) {
    var a: lt_tensor? = nil
    var b: lt_tensor? = nil
    try check(body(&a, &b))
    guard let a, let b else { throw TorchError("shim returned no tensor") }
    return (Tensor(owning: a), Tensor(owning: b))
}

/// Passes an `[Int]` to C as `(const int64_t *, count)`.
@inline(__always)
func withInt64s<R>(_ values: [Int], _ body: (UnsafePointer<Int64>?, Int32) throws -> R) rethrows -> R {
    let converted = values.map { Int64($0) }
    return try converted.withUnsafeBufferPointer { try body($0.baseAddress, Int32($0.count)) }
}

/// Passes tensors to C as `(const lt_tensor *, count)`; the tensors stay alive for the call.
@inline(__always)
func withHandles<R>(_ tensors: [Tensor], _ body: (UnsafePointer<lt_tensor?>?, Int32) throws -> R) rethrows -> R {
    let handles: [lt_tensor?] = tensors.map { $0.handle }
    return try withExtendedLifetime(tensors) {
        try handles.withUnsafeBufferPointer { try body($0.baseAddress, Int32($0.count)) }
    }
}
