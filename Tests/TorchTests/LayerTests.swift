import Foundation
import Testing
@testable import Torch

@Suite(.serialized) struct LayerTests {
    @Test func parametersLiveUnderDottedNames() throws {
        let store = ParameterStore()
        let blocks = store.root / "encoder" / "blocks"
        _ = try Conv2d(blocks / 0 / "conv", inChannels: 3, outChannels: 4, kernelSize: 3)
        _ = try BatchNorm(blocks / 0 / "bn", features: 4)
        _ = try MultiheadAttention(store.root / "decoder" / "attn", embedDim: 8, heads: 2)
        #expect(store.namedTensors.map(\.name) == [
            "encoder.blocks.0.conv.weight", "encoder.blocks.0.conv.bias",
            "encoder.blocks.0.bn.weight", "encoder.blocks.0.bn.bias", "encoder.blocks.0.bn.running_mean",
            "encoder.blocks.0.bn.running_var", "encoder.blocks.0.bn.num_batches_tracked",
            "decoder.attn.in_proj_weight", "decoder.attn.in_proj_bias",
            "decoder.attn.out_proj.weight", "decoder.attn.out_proj.bias",
        ])
        #expect(store.trainableParameters.count == 8)  // buffers are not trained
        try store.setTrainable(false, prefix: "encoder.")
        #expect(store.trainableParameters.count == 4)
        // A second layer at the same path is refused: names are unique.
        #expect(throws: TorchError.self) { try Linear(store.root / "decoder" / "attn" / "out_proj", inFeatures: 8, outFeatures: 8) }
    }

    @Test func batchNormUsesBatchStatisticsOnlyInTraining() throws {
        let store = ParameterStore()
        let bn = try BatchNorm(store.root / "bn", features: 2)
        let x = try Tensor([Float(1), 3, 10, 30], shape: [2, 2])  // channel 0: {1, 10}, channel 1: {3, 30}
        let trained = try bn(x).floats()
        expectClose(trained, [-1, -1, 1, 1], tolerance: 1e-3)
        expectClose(try bn.runningMean.floats(), [0.55, 1.65], tolerance: 1e-5)  // 0.9·0 + 0.1·mean
        #expect(try bn.batchesTracked.item() == 1)
        store.eval()
        let before = try bn.runningMean.floats()
        _ = try bn(x)
        #expect(try bn.runningMean.floats() == before)
        #expect(try bn.batchesTracked.item() == 1)
    }

    @Test func convolutionShapes() throws {
        let store = ParameterStore()
        let x = try Tensor.randn([2, 3, 16, 16])
        let conv = try Conv2d(store.root / "c", inChannels: 3, outChannels: 8, kernelSize: 4, stride: 2, padding: 1)
        #expect(try conv(x).shape == [2, 8, 8, 8])
        let up = try ConvTranspose2d(store.root / "t", inChannels: 8, outChannels: 3, kernelSize: 4, stride: 2, padding: 1)
        #expect(try up(conv(x)).shape == [2, 3, 16, 16])
        #expect(try Functional.maxPool2d(x, kernel: (2, 2)).shape == [2, 3, 8, 8])
        #expect(try Functional.avgPool2d(x, kernel: (4, 4)).shape == [2, 3, 4, 4])
        #expect(try Functional.adaptiveAvgPool2d(x, outputSize: (3, 5)).shape == [2, 3, 3, 5])
        let ln = try LayerNorm(store.root / "ln", shape: [16])
        let normed = try ln(x)
        #expect(Swift.abs(try normed.mean(dims: [-1]).abs().max().item()) < 1e-5)
        let emb = try Embedding(store.root / "emb", count: 10, dimension: 4, paddingIndex: 0)
        let e = try emb(Tensor([Int64(0), 3, 9], shape: [1, 3]))
        #expect(e.shape == [1, 3, 4])
        #expect(try e[0][0].floats() == [0, 0, 0, 0])
    }

    @Test func causalAttentionIgnoresTheFuture() throws {
        LibTorch.manualSeed(11)
        let store = ParameterStore()
        store.eval()
        let attention = try MultiheadAttention(store.root / "attn", embedDim: 8, heads: 2)
        let x = try Tensor.randn([1, 5, 8])
        let causal = try Functional.causalMask(5)
        let (y, weights) = try attention(query: x, key: x, value: x, attentionMask: causal)
        #expect(y.shape == [1, 5, 8])
        // No weight above the diagonal.
        #expect(try weights.maskedSelect(causal.unsqueeze(0)).abs().max().item() == 0)
        // Changing the last token leaves earlier outputs unchanged.
        let changed = try Tensor.cat([x.slice(dim: 1, 0 ..< 4), Tensor.randn([1, 1, 8])], dim: 1)
        let (y2, _) = try attention(query: changed, key: changed, value: changed, attentionMask: causal)
        expectClose(try y.slice(dim: 1, 0 ..< 4).floats(), try y2.slice(dim: 1, 0 ..< 4).floats(), tolerance: 1e-6)
        // Key padding: a padded key gets zero weight.
        let padding = try Tensor([false, false, false, false, true], shape: [1, 5])
        let (_, w3) = try attention(query: x, key: x, value: x, keyPaddingMask: padding)
        #expect(try w3.select(dim: 2, index: 4).abs().max().item() == 0)
    }
}
