import CTorch
import Foundation

/// How a new parameter is initialised.
public enum Initializer: Sendable {
    case zeros
    case ones
    case constant(Double)
    case normal(mean: Double = 0, std: Double)
    case uniform(Double, Double)
    /// PyTorch's default for `Linear` and `Conv` weights (kaiming-uniform with a = √5): U(±1/√fanIn).
    case pytorchDefault(fanIn: Int)
    /// Kaiming-normal for ReLU networks: N(0, 2 / fanIn).
    case kaimingNormal(fanIn: Int)
}

/// Every parameter and buffer of a model, under dotted names (`encoder.blocks.0.conv.weight`) — the
/// names a PyTorch `state_dict` uses, so checkpoints move between Loupe and Python unchanged.
/// Also holds the train/eval mode that dropout and batch-norm read.
public final class ParameterStore {
    public enum Kind: Sendable { case parameter, buffer }

    public struct Entry {
        public let name: String
        public let tensor: Tensor
        public let kind: Kind
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    /// Dropout and batch-norm behave as in training when true (`model.train()` / `model.eval()`).
    public var isTraining = true

    public init() {}

    public var root: ParameterPath { ParameterPath(store: self, components: []) }

    public func train() { isTraining = true }
    public func eval() { isTraining = false }

    /// Trainable parameters (those that require grad), in registration order.
    public var trainableParameters: [Tensor] {
        entries.filter { $0.kind == .parameter && $0.tensor.requiresGrad }.map(\.tensor)
    }

    public var parameters: [Tensor] { entries.filter { $0.kind == .parameter }.map(\.tensor) }

    /// Parameters and buffers by name: what a checkpoint holds.
    public var namedTensors: [(name: String, tensor: Tensor)] { entries.map { ($0.name, $0.tensor) } }

    public subscript(name: String) -> Tensor? { index[name].map { entries[$0].tensor } }

    public var parameterCount: Int { entries.filter { $0.kind == .parameter }.reduce(0) { $0 + $1.tensor.count } }

    func register(_ name: String, _ tensor: Tensor, kind: Kind) throws {
        guard index[name] == nil else { throw TorchError("parameter \(name) is already registered") }
        index[name] = entries.count
        entries.append(Entry(name: name, tensor: tensor, kind: kind))
    }

    /// Freezes (or unfreezes) every parameter whose name starts with `prefix`.
    public func setTrainable(_ trainable: Bool, prefix: String = "") throws {
        for entry in entries where entry.kind == .parameter && entry.name.hasPrefix(prefix) {
            try entry.tensor.requiresGrad(trainable)
        }
    }

    /// Copies values from `tensors` into the registered tensors, in place.
    /// With `strict`, a missing or unexpected name is an error; a shape mismatch always is. Nothing is
    /// copied unless every check passes.
    public func load(_ tensors: [(name: String, tensor: Tensor)], strict: Bool = true) throws {
        var byName: [String: Tensor] = [:]
        for (name, tensor) in tensors { byName[name] = tensor }
        if strict {
            let missing = entries.map(\.name).filter { byName[$0] == nil }
            let unexpected = tensors.map(\.name).filter { index[$0] == nil }
            if !missing.isEmpty || !unexpected.isEmpty {
                throw TorchError("state dict does not match the model: missing \(missing), unexpected \(unexpected)")
            }
        }
        for entry in entries {
            guard let source = byName[entry.name] else { continue }
            if source.shape != entry.tensor.shape {
                throw TorchError("size mismatch for \(entry.name): checkpoint \(source.shape), model \(entry.tensor.shape)")
            }
        }
        try withNoGrad {
            for entry in entries {
                guard let source = byName[entry.name] else { continue }
                try entry.tensor.copy_(source)
            }
        }
    }
}

/// A position in the parameter tree: `root / "encoder" / "blocks" / 0`.
public struct ParameterPath {
    public let store: ParameterStore
    public let components: [String]

    public static func / (path: ParameterPath, name: String) -> ParameterPath {
        precondition(!name.isEmpty && !name.contains("."), "a path component is one non-empty name")
        return ParameterPath(store: path.store, components: path.components + [name])
    }

    public static func / (path: ParameterPath, index: Int) -> ParameterPath { path / String(index) }

    public func name(_ leaf: String) -> String { (components + [leaf]).joined(separator: ".") }

    public var isTraining: Bool { store.isTraining }

    /// A new trainable parameter registered as `<path>.<name>`.
    @discardableResult
    public func parameter(_ name: String, shape: [Int], initializer: Initializer, trainable: Bool = true) throws -> Tensor {
        let tensor = try Tensor.zeros(shape)
        switch initializer {
        case .zeros: break
        case .ones: try tensor.fill_(1)
        case .constant(let v): try tensor.fill_(v)
        case .normal(let mean, let std): try tensor.normal_(mean: mean, std: std)
        case .uniform(let lo, let hi): try tensor.uniform_(lo, hi)
        case .pytorchDefault(let fanIn):
            let bound = 1 / Double(max(fanIn, 1)).squareRoot()
            try tensor.uniform_(-bound, bound)
        case .kaimingNormal(let fanIn): try tensor.normal_(mean: 0, std: (2 / Double(max(fanIn, 1))).squareRoot())
        }
        try tensor.requiresGrad(trainable)
        try store.register(self.name(name), tensor, kind: .parameter)
        return tensor
    }

    /// A non-trainable tensor saved with the model (running statistics, counters).
    @discardableResult
    public func buffer(_ name: String, _ tensor: Tensor) throws -> Tensor {
        try store.register(self.name(name), tensor, kind: .buffer)
        return tensor
    }
}
