import Foundation
import Torch

/// A sentence classifier: a BERT-style encoder (MiniLM-L6, pretrained or trained from scratch), the mean
/// of its token states, dropout and one linear layer to the labels. Parameter names: the encoder's
/// Hugging Face names at the root, the head under `classifier`.
public final class TransformerClassifier {
    public let store: ParameterStore
    public let encoder: MiniLMEncoder
    let dropout: Dropout
    let head: Linear
    public let labels: [String]

    public init(encoder config: MiniLMConfig, labels: [String] = ["negative", "positive"], store: ParameterStore = ParameterStore()) throws {
        precondition(labels.count >= 2, "at least two labels")
        self.store = store
        encoder = try MiniLMEncoder(config: config, path: store.root)
        dropout = Dropout(store.root / "classifier", p: config.hiddenDropout)
        head = try Linear(store.root / "classifier", inFeatures: config.hidden, outFeatures: labels.count)
        self.labels = labels
    }

    /// Copies a pretrained encoder (e.g. MiniLM's model.safetensors) into the model: every tensor of the
    /// file must be one of the encoder's, and every encoder tensor must be in the file; the head keeps
    /// its initialisation.
    public func loadEncoder(_ tensors: [(name: String, tensor: Tensor)]) throws {
        let names = Set(tensors.map(\.name))
        let encoderNames = store.entries.map(\.name).filter { !$0.hasPrefix("classifier.") }
        let missing = encoderNames.filter { !names.contains($0) }, unexpected = names.subtracting(encoderNames)
        guard missing.isEmpty, unexpected.isEmpty else {
            throw TorchError("the pretrained encoder does not match: missing \(missing.sorted()), unexpected \(unexpected.sorted())")
        }
        try store.load(tensors, strict: false)
    }

    /// ids, mask (N, L) → logits (N, labels).
    public func callAsFunction(ids: Tensor, mask: Tensor) throws -> Tensor {
        let pooled = try MiniLMEncoder.meanPool(encoder(ids: ids, mask: mask), mask: mask)  // (N, H)
        return try head(dropout(pooled))
    }
}
