import Foundation
import Torch

public enum GANSamplingError: Error, CustomStringConvertible, Equatable {
    case unconditional(String)
    case unknownCondition(String, available: [String])
    case unknownLabel(condition: String, label: String, labels: [String])

    public var description: String {
        switch self {
        case .unconditional(let name): "this generator is unconditional: it takes no --\(name)"
        case .unknownCondition(let name, let available):
            "this generator is not conditioned on \(name) (it takes \(available.map { "--" + $0 }.joined(separator: ", ")))"
        case .unknownLabel(let condition, let label, let labels): "unknown \(condition) '\(label)' (one of: \(labels.joined(separator: ", ")))"
        }
    }
}

extension Generator {
    /// (n, F) label indices: the given label for each named condition, uniformly random labels for the
    /// others; nil for an unconditional generator asked for nothing.
    public func labels(fixing fixed: [String: String], count n: Int) throws -> Tensor? {
        let conditions = config.conditions
        guard !conditions.isEmpty else {
            if let name = fixed.keys.sorted().first { throw GANSamplingError.unconditional(name) }
            return nil
        }
        for name in fixed.keys.sorted() where !conditions.contains(where: { $0.name == name }) {
            throw GANSamplingError.unknownCondition(name, available: conditions.map(\.name))
        }
        let columns = try conditions.map { condition -> Tensor in
            guard let label = fixed[condition.name] else { return try Tensor.randint(0, condition.labels.count, shape: [n, 1]) }
            guard let index = condition.index(of: label) else {
                throw GANSamplingError.unknownLabel(condition: condition.name, label: label, labels: condition.labels)
            }
            return try Tensor.full([n, 1], Double(index)).to(.int64)
        }
        return try Tensor.cat(columns, dim: 1)  // (n, F)
    }

    /// n images (N, C, S, S) in [−1, 1] in eval mode, with the labels they were drawn for.
    public func sample(count n: Int, fixing fixed: [String: String] = [:]) throws -> (images: Tensor, labels: Tensor?) {
        precondition(n >= 1, "at least one sample")
        let labels = try labels(fixing: fixed, count: n)
        let wasTraining = store.isTraining
        store.eval()
        defer { if wasTraining { store.train() } }
        let images = try withNoGrad { try self(Tensor.randn([n, config.latent]), labels: labels) }
        return (images, labels)
    }
}
