import Foundation
import Torch

/// A share of the captioner's parameters whose checkpoint is chosen by its own validation figure.
///
/// With a frozen encoder the decoder (`adapter.*`, `decoder.*`) and the attribute heads (`heads.*`) share
/// no trained parameter and learn from separate loss terms, so each keeps the epoch where it was best:
/// the text by BLEU-4 + ROUGE-L, the heads by mean attribute accuracy. One joint score (their sum) had
/// kept the text and the heads of one epoch, which neither peaked at. When the encoder trains, it is
/// shared, and the model is chosen whole by the joint score.
public enum CheckpointPart: String, Codable, Sendable, CaseIterable {
    case whole, text, attributes

    /// The parts a run chooses separately.
    static func parts(frozenEncoder: Bool) -> [CheckpointPart] { frozenEncoder ? [.text, .attributes] : [.whole] }

    func owns(_ name: String) -> Bool {
        switch self {
        case .whole: true
        case .attributes: name.hasPrefix("heads.")
        case .text: !name.hasPrefix("heads.")
        }
    }

    public func score(_ report: EvaluationReport) -> Double {
        switch self {
        case .whole: report.selectionScore
        case .text: report.bleu4 + report.rougeL
        case .attributes: report.meanAccuracy
        }
    }
}

/// The best validation score and epoch of each checkpoint part, and the kept checkpoint they make up.
struct CheckpointSelection: Codable, Equatable {
    struct Best: Codable, Equatable {
        var part: CheckpointPart
        var score: Double
        var epoch: Int
    }
    private(set) var best: [Best]

    init(parts: [CheckpointPart]) {
        precondition(!parts.isEmpty && Set(parts).count == parts.count, "distinct checkpoint parts")
        best = parts.map { Best(part: $0, score: -.infinity, epoch: 0) }
    }

    /// The last epoch any part improved at (early stopping counts from it).
    var lastImprovement: Int { best.map(\.epoch).max()! }

    /// Records `epoch`'s validation report; returns the parts it improved (every part with `keepLast`).
    mutating func record(_ report: EvaluationReport, epoch: Int, keepLast: Bool) -> [CheckpointPart] {
        var improved: [CheckpointPart] = []
        for i in best.indices {
            let score = best[i].part.score(report)
            guard keepLast || score > best[i].score else { continue }
            best[i].score = score
            best[i].epoch = epoch
            improved.append(best[i].part)
        }
        return improved
    }

    /// The checkpoint to keep after `record` returned `improved`, or nil when nothing improved: `current`
    /// when every part improved, otherwise `current`'s improved parts over `kept()` (read only then).
    func checkpoint(improved: [CheckpointPart], current: [(name: String, tensor: Tensor)],
                    kept: () throws -> [(name: String, tensor: Tensor)]) throws -> [(name: String, tensor: Tensor)]? {
        guard !improved.isEmpty else { return nil }
        return try Self.merge(kept: improved.count == best.count ? nil : kept(), current: current, improved: improved)
    }

    /// The kept checkpoint after an epoch: `current`'s tensors for the improved parts, `kept`'s for the
    /// others, in `current`'s order. Nothing kept yet: every tensor is `current`'s.
    static func merge(kept: [(name: String, tensor: Tensor)]?, current: [(name: String, tensor: Tensor)],
                      improved: [CheckpointPart]) throws -> [(name: String, tensor: Tensor)] {
        guard let kept else { return current }
        let keptByName = Dictionary(kept.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        return try current.map { entry in
            if improved.contains(where: { $0.owns(entry.name) }) { return entry }
            guard let tensor = keptByName[entry.name] else { throw TorchError("the kept checkpoint has no tensor \(entry.name)") }
            return (entry.name, tensor)
        }
    }

    var summary: String {
        best.map { "\($0.part.rawValue) \(String(format: "%.4f", $0.score)) at epoch \($0.epoch)" }.joined(separator: ", ")
    }
}
