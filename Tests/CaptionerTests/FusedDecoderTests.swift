@testable import Captioner
import Catalog
import Foundation
import Testing
import Torch

/// The shim's fused decoder step (`lt_decoder_*`) against the same step as libtorch operators.
@Suite(.serialized) struct FusedDecoderTests {
    /// Two blocks, four heads, and every decoder weight drawn at a scale where LayerNorm biases,
    /// attention and GELU all matter (a fresh model's zero biases and 0.02 embeddings would hide a bias
    /// or layout slip). Width 48: every matrix the step multiplies by (48, 144 and 192 outputs, and the
    /// vocabulary) ends in a part-filled 32-column panel of the shim's few-rows kernel.
    func model() throws -> CaptionModel {
        LibTorch.manualSeed(5)
        var config = tinyConfig(texts: DecodingTests.texts)
        (config.width, config.layers, config.heads) = (48, 2, 4)
        let model = try CaptionModel(config: config)
        model.store.eval()
        try withNoGrad {
            for (name, tensor) in model.store.namedTensors where name.hasPrefix("decoder.") || name.hasPrefix("adapter.") {
                try tensor.normal_(mean: (name.hasSuffix("norm.weight") || (name.contains(".ln") && name.hasSuffix(".weight"))) ? 1 : 0, std: 0.3)
            }
        }
        return model
    }

    func memory(_ model: CaptionModel, seed: UInt64) throws -> Tensor {
        LibTorch.manualSeed(seed)
        return try withNoGrad { try model.memory(Tensor.randn([1, 1280, 2, 2])) }  // (1, 4, d)
    }

    @Test func fusedStepsEqualTheOperatorStepsThroughReorders() throws {
        let model = try model()
        let memory = try memory(model, seed: 1)
        let v = model.config.vocabulary.count
        let cache = try model.startCache(memory: memory)
        let fused = try model.fusedDecoder(memory: memory, rows: 3)
        #expect(fused.vocabulary == v)
        // Three beams; after some steps rows are reordered with a repeated and a moved parent.
        let tokens = [[1, 1, 1], [7, 9, 5], [12, 6, 8], [5, 5, 9], [10, 11, 7], [6, 4, 13]]
        let reorders: [Int: [Int]] = [1: [2, 0, 1], 3: [1, 1, 0], 4: [0, 2, 2]]
        for (t, row) in tokens.enumerated() {
            let reference = try withNoGrad { try model.stepLogProbabilities(row, position: t, cache: cache) }.floats()  // (3 · V)
            let stepped = try fused.step(tokens: row, position: t)
            #expect(stepped.count == 3 * v)
            let difference = zip(reference, stepped).map { abs($0 - $1) }.max()!
            #expect(difference < 1e-4, "position \(t): largest difference \(difference)")
            if let parents = reorders[t] {
                try cache.reorder(parents)
                try fused.reorder(parents: parents, length: t + 1)
            }
        }
        // Fewer rows than the decoder holds (beams that finished): the first rows only.
        try cache.reorder([2, 0])
        try fused.reorder(parents: [2, 0], length: tokens.count)
        let reference = try withNoGrad { try model.stepLogProbabilities([3, 4], position: tokens.count, cache: cache) }.floats()
        let stepped = try fused.step(tokens: [3, 4], position: tokens.count)
        #expect(zip(reference, stepped).map { abs($0 - $1) }.max()! < 1e-4)
    }

    /// Every row count the shim's matrix products split differently — blocks of up to 4 (AVX2, plain) or
    /// 8 (AVX-512) rows in the few-rows kernel (5, 9, 12, 24 rows: eight photos' beams) and sgemm beyond
    /// 64 rows — at every kernel level (those the CPU lacks fall back to the next).
    @Test(arguments: [1, 2, 3, 4, 5, 8, 9, 12, 24, 66], [0, 1, 2])
    func everyRowCountEqualsTheOperatorStep(rows: Int, kernels: Int) throws {
        let previous = LibTorch.setKernelLimit(kernels)
        defer { LibTorch.setKernelLimit(previous) }
        let model = try model()
        let memory = try memory(model, seed: 4)
        let cache = try model.startCache(memory: memory)
        let fused = try model.fusedDecoder(memory: memory, rows: rows)
        _ = try withNoGrad { try model.stepLogProbabilities([1], position: 0, cache: cache) }
        _ = try fused.step(tokens: [1], position: 0)
        let parents = [Int](repeating: 0, count: rows)
        try cache.reorder(parents)
        try fused.reorder(parents: parents, length: 1)
        let tokens = (0 ..< rows).map { 4 + $0 % 10 }
        let reference = try withNoGrad { try model.stepLogProbabilities(tokens, position: 1, cache: cache) }.floats()
        let stepped = try fused.step(tokens: tokens, position: 1)
        #expect(stepped.count == reference.count)
        #expect(zip(reference, stepped).map { abs($0 - $1) }.max()! < 1e-4, "\(rows) rows, kernels \(kernels)")
    }

    /// The packed weights are a copy taken when they are packed: a decoder built from them keeps
    /// stepping the old model after the parameters change (as they do between training epochs), and
    /// outlives the weights object it was built from.
    @Test func packedWeightsAreASnapshotThatDecodersKeepAlive() throws {
        let model = try model()
        let memory = try memory(model, seed: 2)
        var packed: FusedDecoderWeights? = try model.fusedDecoderWeights()
        let before = try FusedDecoder(weights: packed!, memory: memory, maxRows: 2)
        packed = nil
        let reference = try withNoGrad { try model.stepLogProbabilities([1, 1], position: 0, cache: model.startCache(memory: memory)) }.floats()
        try withNoGrad {
            for (name, tensor) in model.store.namedTensors where name.hasPrefix("decoder.") { try tensor.mul_(1.5) }
        }
        let changed = try withNoGrad { try model.stepLogProbabilities([1, 1], position: 0, cache: model.startCache(memory: memory)) }.floats()
        #expect(zip(reference, changed).map { abs($0 - $1) }.max()! > 0.01, "the change must matter")
        let old = try before.step(tokens: [1, 1], position: 0)
        #expect(zip(reference, old).map { abs($0 - $1) }.max()! < 1e-4)
        let repacked = try model.fusedDecoder(memory: memory, rows: 2).step(tokens: [1, 1], position: 0)
        #expect(zip(changed, repacked).map { abs($0 - $1) }.max()! < 1e-4)
    }

    /// Rows of several images in one step: each row attends over its own image's memory, as in a step
    /// over that image alone.
    @Test func rowsAttendOverTheirOwnImage() throws {
        let model = try model()
        let memories = try (0 ..< 3).map { try memory(model, seed: 10 + UInt64($0)) }  // (1, M, d) each
        let fused = try model.fusedDecoder(memory: Tensor.cat(memories, dim: 0), rows: 5)
        #expect(fused.images == 3)
        let tokens = [1, 1, 1, 1, 1], owners = [2, 0, 1, 2, 0]
        let stepped = try fused.step(tokens: tokens, images: owners, position: 0)
        let v = model.config.vocabulary.count
        for (row, image) in owners.enumerated() {
            let alone = try withNoGrad { try model.stepLogProbabilities([1], position: 0, cache: model.startCache(memory: memories[image])) }.floats()
            let mine = Array(stepped[row * v ..< (row + 1) * v])
            #expect(zip(alone, mine).map { abs($0 - $1) }.max()! < 1e-4, "row \(row), image \(image)")
        }
        // The images differ, so a row on the wrong image would show.
        #expect(zip(stepped[0 ..< v], stepped[v ..< 2 * v]).map { abs($0 - $1) }.max()! > 1e-3)
        #expect(throws: TorchError.self) { try fused.step(tokens: [1], images: [3], position: 1) }
    }

    /// Several images searched together give each the text it gets alone, also when their searches stop
    /// at different steps (their rows then leave the batch): in one decoder call per step (one libtorch
    /// thread) and split into two halves searched on two threads (two), with an odd count of images.
    @Test func batchedSearchGivesEachImageItsOwnText() throws {
        let model = try model()
        let banned = model.bannedTokenIDs(grounding: Grounding())
        let memories = try (0 ..< 5).map { try memory(model, seed: 20 + UInt64($0)) }
        let threads = LibTorch.threads
        defer { try? LibTorch.setThreads(threads) }
        for width in [1, 3] {
            let options = DecodingOptions(beamWidth: width)
            let alone = try withNoGrad { try memories.map { try model.search(memory: $0, options: options, banned: banned) } }
            #expect(Set(alone.map(\.count)).count > 1, "texts of different lengths, so searches stop at different steps")
            for n in [1, 2] {
                try LibTorch.setThreads(n)
                let together = try withNoGrad { try model.search(memories: Tensor.cat(memories, dim: 0), options: options, banned: banned) }
                #expect(together == alone, "width \(width), \(n) thread(s)")
            }
        }
    }

    @Test func beamSearchGivesTheSameTextOnBothPaths() throws {
        let model = try model()
        let banned = model.bannedTokenIDs(grounding: Grounding())
        for seed: UInt64 in [1, 2, 3] {
            let memory = try memory(model, seed: seed)
            for width in [1, 3] {
                var options = DecodingOptions(beamWidth: width)
                let fused = try withNoGrad { try model.search(memory: memory, options: options, banned: banned) }
                options.fused = false
                let operators = try withNoGrad { try model.search(memory: memory, options: options, banned: banned) }
                #expect(fused == operators, "seed \(seed), width \(width)")
                #expect(fused.count > 3)
            }
        }
    }

    @Test func badCallsAreErrorsNotCrashes() throws {
        let model = try model()
        let fused = try model.fusedDecoder(memory: memory(model, seed: 1), rows: 2)
        #expect(throws: TorchError.self) { try fused.step(tokens: [fused.vocabulary], position: 0) }
        #expect(throws: TorchError.self) { try fused.step(tokens: [1], position: model.config.maxLength) }
        #expect(throws: TorchError.self) { try fused.reorder(parents: [0, 2], length: 1) }
        // Memory of the wrong width.
        #expect(throws: TorchError.self) { try model.fusedDecoder(memory: Tensor.randn([1, 4, 7]), rows: 2) }
        // Still usable after the refused calls.
        #expect(try fused.step(tokens: [1, 2], position: 0).allSatisfy(\.isFinite))
    }
}
