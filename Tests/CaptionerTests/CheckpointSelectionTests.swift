@testable import Captioner
import Testing
import Torch

/// The kept checkpoint is put together from the epochs where each part was best: with a frozen encoder the
/// decoder's tensors from the best text epoch and the heads' from the best attribute epoch.
@Suite struct CheckpointSelectionTests {
    /// A report whose text score is `text` (BLEU-4 = ROUGE-L = text / 2) and mean accuracy `accuracy`.
    static func report(text: Double, accuracy: Double) -> EvaluationReport {
        var r = EvaluationReport()
        r.bleu = [0.9, 0.8, 0.7, text / 2]
        r.rougeL = text / 2
        r.accuracy = ["category": accuracy, "metal": accuracy]
        return r
    }

    /// Epoch e's model: every tensor holds e.
    static func tensors(epoch: Int) throws -> [(name: String, tensor: Tensor)] {
        try ["adapter.proj.weight", "decoder.blocks.0.attn.weight", "heads.trunk.weight", "heads.metal.weight", "encoder.stem.weight"]
            .map { ($0, try Tensor.full([2, 2], Double(epoch))) }
    }

    /// Runs the trainer's bookkeeping (`record`, then `checkpoint`) over `reports` (epoch i + 1 is
    /// reports[i]); returns the kept checkpoint's value per tensor and the selection.
    static func select(_ reports: [EvaluationReport], parts: [CheckpointPart], keepLast: Bool = false) throws -> ([String: Double], CheckpointSelection) {
        var selection = CheckpointSelection(parts: parts)
        var kept: [(name: String, tensor: Tensor)]? = nil
        for (i, report) in reports.enumerated() {
            let improved = selection.record(report, epoch: i + 1, keepLast: keepLast)
            if let next = try selection.checkpoint(improved: improved, current: tensors(epoch: i + 1), kept: { try #require(kept) }) {
                kept = next
            }
        }
        let values = try Dictionary(uniqueKeysWithValues: #require(kept).map { ($0.name, try $0.tensor.mean().item()) })
        return (values, selection)
    }

    // Text best at epoch 2, attributes at epoch 3; the joint score (their sum) best at epoch 4.
    static let reports = [report(text: 0.6, accuracy: 0.5), report(text: 0.9, accuracy: 0.6), report(text: 0.7, accuracy: 0.9),
                          report(text: 0.85, accuracy: 0.8), report(text: 0.5, accuracy: 0.5)]

    @Test func aFrozenEncoderKeepsTheDecoderAndTheHeadsFromTheirOwnBestEpochs() throws {
        let (kept, selection) = try Self.select(Self.reports, parts: CheckpointPart.parts(frozenEncoder: true))
        #expect(kept["adapter.proj.weight"] == 2)
        #expect(kept["decoder.blocks.0.attn.weight"] == 2)
        #expect(kept["encoder.stem.weight"] == 2)
        #expect(kept["heads.trunk.weight"] == 3)
        #expect(kept["heads.metal.weight"] == 3)
        #expect(selection.best.map(\.epoch) == [2, 3])
        #expect(selection.lastImprovement == 3)
        #expect(abs(selection.best[0].score - 0.9) < 1e-12 && abs(selection.best[1].score - 0.9) < 1e-12)
    }

    @Test func aTrainedEncoderKeepsOneEpochWhole() throws {
        let (kept, selection) = try Self.select(Self.reports, parts: CheckpointPart.parts(frozenEncoder: false))
        #expect(Set(kept.values) == [4])
        #expect(selection.best.map(\.part) == [.whole] && selection.lastImprovement == 4)
    }

    @Test func keepLastTakesTheLastEpochForEveryPart() throws {
        let (kept, selection) = try Self.select(Self.reports, parts: [.text, .attributes], keepLast: true)
        #expect(Set(kept.values) == [5])
        #expect(selection.best.map(\.epoch) == [5, 5])
    }

    @Test func theMergeKeepsTheCurrentOrderAndRejectsAMissingTensor() throws {
        let current = try Self.tensors(epoch: 7)
        let merged = try CheckpointSelection.merge(kept: Array(Self.tensors(epoch: 1).reversed()), current: current, improved: [.attributes])
        #expect(merged.map(\.name) == current.map(\.name))
        #expect(try merged.map { try $0.tensor.mean().item() } == [1, 1, 7, 7, 1])
        #expect(throws: TorchError.self) {
            try CheckpointSelection.merge(kept: Array(Self.tensors(epoch: 1).prefix(2)), current: current, improved: [.attributes])
        }
    }
}
