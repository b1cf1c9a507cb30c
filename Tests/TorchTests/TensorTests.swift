import Foundation
import Testing
@testable import Torch

/// Serialized: libtorch's random generator is process-global.
@Suite(.serialized) struct TensorTests {
    @Test func createsAndReadsBack() throws {
        let t = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(t.shape == [2, 3])
        #expect(t.dtype == .float32)
        #expect(t.count == 6)
        #expect(try t.floats() == [1, 2, 3, 4, 5, 6])
        #expect(try Tensor.zeros([2, 2], dtype: .int64).int64s() == [0, 0, 0, 0])
        #expect(try Tensor.ones([3], dtype: .bool).bools() == [true, true, true])
        #expect(try Tensor.arange(0, 5).int64s() == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(0, 1, step: 0.25, dtype: .float32).floats() == [0, 0.25, 0.5, 0.75])
        #expect(try Tensor.full([2], 7.5).floats() == [7.5, 7.5])
        #expect(try Tensor([true, false]).bools() == [true, false])
        #expect(try Tensor([Int64(3), -4]).to(.float32).floats() == [3, -4])
        #expect(throws: TorchError.self) { try Tensor([Float(1), 2, 3], shape: [2, 2]) }
    }

    @Test func seededRandomnessRepeats() throws {
        LibTorch.manualSeed(42)
        let a = try Tensor.randn([5]).floats()
        LibTorch.manualSeed(42)
        let b = try Tensor.randn([5]).floats()
        let c = try Tensor.randn([5]).floats()
        #expect(a == b)
        #expect(a != c)
    }

    @Test func threadsAreSetExplicitly() throws {
        try LibTorch.setThreads(2)
        #expect(LibTorch.threads == 2)
        try LibTorch.setThreads(1)
        #expect(LibTorch.threads == 1)
        #expect(throws: TorchError.self) { try LibTorch.setThreads(0) }
    }

    @Test func broadcastingArithmetic() throws {
        let a = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        let row = try Tensor([Float(10), 20, 30], shape: [1, 3])
        #expect(try (a + row).floats() == [11, 22, 33, 14, 25, 36])
        #expect(try (a * 2).floats() == [2, 4, 6, 8, 10, 12])
        #expect(try (1 - a).floats() == [0, -1, -2, -3, -4, -5])
        #expect(try (a / row).floats() == [0.1, 0.1, 0.1, 0.4, 0.25, 0.2])
        #expect(try a.pow(2).sum().item() == 91)
        let m = try Tensor([Float(1), 0, 0, 1, 1, 1], shape: [3, 2])
        #expect(try a.matmul(m).floats() == [4, 5, 10, 11])
    }

    @Test func shapeOperations() throws {
        let a = try Tensor.arange(0, 24).reshape(2, 3, 4)
        #expect(try a.permute(2, 0, 1).shape == [4, 2, 3])
        #expect(try a.transpose(0, 2).shape == [4, 3, 2])
        #expect(try a.slice(dim: 2, 1 ..< 3).int64s() == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        #expect(try a.slice(dim: 2, start: 0, end: 4, step: 2).shape == [2, 3, 2])
        #expect(try a[1].shape == [3, 4])
        #expect(try a.indexSelect(dim: 1, index: Tensor([Int64(2), 0])).select(dim: 0, index: 0).int64s() == [8, 9, 10, 11, 0, 1, 2, 3])
        #expect(try Tensor.cat([a, a], dim: 1).shape == [2, 6, 4])
        #expect(try Tensor.stack([a, a], dim: 0).shape == [2, 2, 3, 4])
        #expect(try a.flatten(from: 1).shape == [2, 12])
        #expect(try a.unsqueeze(0).squeeze(0).shape == [2, 3, 4])
        let mask = try a.gt(20)
        #expect(try a.maskedSelect(mask).int64s() == [21, 22, 23])
        #expect(try a.maskedFill(mask, -1).sum().item() == Double((0 ... 20).reduce(0, +) - 3))
        #expect(try Tensor.where(mask, a, a.zerosLike()).sum().item() == 66)
        #expect(try Tensor([Float(1), 2]).pad([1, 2], value: 9).floats() == [9, 1, 2, 9, 9])
    }

    @Test func reductionsArgmaxTopK() throws {
        let a = try Tensor([Float(3), 1, 4, 1, 5, 9], shape: [2, 3])
        #expect(try a.sum().item() == 23)
        #expect(try a.sum(dims: [1]).floats() == [8, 15])
        #expect(try a.mean(dims: [0], keepDim: true).shape == [1, 3])
        #expect(try a.max().item() == 9)
        #expect(try a.min(dims: [1]).floats() == [1, 1])
        #expect(try a.argmax(dim: 1).int64s() == [2, 2])
        let (values, indices) = try a.topk(2, dim: 1)
        #expect(try values.floats() == [4, 3, 9, 5])
        #expect(try indices.int64s() == [2, 0, 2, 1])
        #expect(Swift.abs(try Tensor([Float(2), 4, 4, 4, 5, 5, 7, 9]).std().item() - 2.13809) < 1e-4)
    }

    @Test func activations() throws {
        let x = try Tensor([Float(-2), -0.5, 0, 0.5, 2])
        #expect(try x.relu().floats() == [0, 0, 0, 0.5, 2])
        expectClose(try x.leakyRelu(0.2).floats(), [-0.4, -0.1, 0, 0.5, 2])
        expectClose(try x.sigmoid().floats(), [-2, -0.5, 0, 0.5, 2].map { Float(1 / (1 + Foundation.exp(-$0))) })
        expectClose(try x.tanh().floats(), [-2, -0.5, 0, 0.5, 2].map { Float(Foundation.tanh($0)) })
        // GELU(x) = x Φ(x)
        expectClose(try x.gelu().floats(), [-2, -0.5, 0, 0.5, 2].map { Float($0 * 0.5 * (1 + erf($0 / 2.0.squareRoot()))) })
        let logits = try Tensor([Float(1), 2, 3, 1, 1, 1], shape: [2, 3])
        expectClose(try logits.softmax(dim: 1).sum(dims: [1]).floats(), [1, 1])
        expectClose(try logits.logSoftmax(dim: 1).exp().floats(), try logits.softmax(dim: 1).floats())
    }

    @Test func dropoutFollowsTrainingFlag() throws {
        let x = try Tensor.ones([1000])
        #expect(try x.dropout(0.5, training: false).floats() == [Float](repeating: 1, count: 1000))
        let dropped = try x.dropout(0.5, training: true).floats()
        let zeros = dropped.filter { $0 == 0 }.count
        #expect(zeros > 350 && zeros < 650)
        #expect(dropped.allSatisfy { $0 == 0 || $0 == 2 })  // inverted dropout scales by 1 / (1 − p)
    }

    @Test func lossesMatchTheirDefinitions() throws {
        let logits = try Tensor([Float(2), 0, -1, 0.5, 0.5, 3], shape: [2, 3])
        let target = try Tensor([Int64(0), 2])
        let logp = try logits.logSoftmax(dim: 1).floats()
        let picked: Float = logp[0] + logp[5]
        let nll: Float = -picked / 2
        #expect(Swift.abs(try Float(Functional.crossEntropy(logits, target: target).item()) - nll) < 1e-6)
        // ignore_index drops the second row entirely.
        let ignoring = try Functional.crossEntropy(logits, target: Tensor([Int64(0), -100]))
        #expect(Swift.abs(try Float(ignoring.item()) + logp[0]) < 1e-6)
        // Label smoothing ε: (1 − ε)·NLL + ε·mean over classes of −log p.
        let eps: Float = 0.1
        let total: Float = logp.reduce(0, +)
        let uniform: Float = -total / 6
        let smoothed = try Functional.crossEntropy(logits, target: target, labelSmoothing: Double(eps))
        let expectedSmoothed: Float = (1 - eps) * nll + eps * uniform
        #expect(Swift.abs(try Float(smoothed.item()) - expectedSmoothed) < 1e-5)

        let z = try Tensor([Float(0.3), -1.2]), y = try Tensor([Float(1), 0])
        let p0: Double = 1 / (1 + Foundation.exp(-0.3)), p1: Double = 1 / (1 + Foundation.exp(1.2))
        let bce: Double = -(Foundation.log(p0) + Foundation.log(1 - p1)) / 2
        #expect(Swift.abs(try Functional.binaryCrossEntropyWithLogits(z, target: y).item() - bce) < 1e-6)
        #expect(Swift.abs(try Functional.mseLoss(z, target: y).item() - (0.49 + 1.44) / 2) < 1e-6)
    }

    @Test func shapeMismatchThrowsLibtorchMessage() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4, 5])
        do {
            _ = try a + b
            Issue.record("adding (2, 3) and (4, 5) did not throw")
        } catch let error as TorchError {
            #expect(error.message.contains("must match the size of tensor b"))
        }
        #expect(throws: TorchError.self) { try a.matmul(b) }
        #expect(throws: TorchError.self) { try a.reshape(7) }
        #expect(throws: TorchError.self) { try Functional.crossEntropy(a, target: Tensor([Int64(5), 0])) }
    }

    @Test func noGradScope() throws {
        let w = try Tensor.ones([3]).requiresGrad(true)
        let inside = try withNoGrad { try w * 2 }
        #expect(!inside.requiresGrad)
        #expect(LibTorch.isGradEnabled)
        #expect(try (w * 2).requiresGrad)
    }
}
