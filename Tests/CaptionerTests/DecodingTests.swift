@testable import Captioner
import Catalog
import Foundation
import Testing
import Torch

@Suite struct DecodingTests {
    static let texts = ["A <category> in <metal> with <gem1s>.", "<metal> <category>", "It is ideal for weddings.",
                        "The piece pairs a matte finish with bold statement presence."]

    func model() throws -> CaptionModel {
        LibTorch.manualSeed(11)
        let model = try CaptionModel(config: tinyConfig(texts: Self.texts))
        model.store.eval()
        return model
    }

    @Test func incrementalStepsEqualTheFullForwardPass() throws {
        let model = try model()
        let features = try Tensor.randn([1, 1280, 2, 2])
        let memory = try withNoGrad { try model.memory(features) }
        let ids = [model.config.vocabulary.bosID, 7, 9, 5, 12, 6]
        let full = try withNoGrad {
            try model.decode(Tensor(ids.map(Int64.init), shape: [1, ids.count]), memory: memory).logSoftmax(dim: 2)
        }  // (1, T, V)
        let cache = try model.startCache(memory: memory)
        for (t, id) in ids.enumerated() {
            let step = try withNoGrad { try model.stepLogProbabilities([id], position: t, cache: cache) }  // (1, V)
            let difference = try (step - full.select(dim: 1, index: t)).abs().max().item()
            #expect(difference < 1e-4, "position \(t): \(difference)")
        }
    }

    @Test func beamSearchObeysBansNoRepeatAndStructure() throws {
        let model = try model()
        let features = try Tensor.randn([1, 1280, 2, 2])
        let memory = try withNoGrad { try model.memory(features) }
        let v = model.config.vocabulary
        let banned: Set<Int> = [v.padID, v.bosID, v.unknownID, v.id("weddings")]
        for width in [1, 3] {
            let ids = try withNoGrad {
                try model.search(memory: memory, options: DecodingOptions(beamWidth: width, noRepeatNGram: 2), banned: banned)
            }
            #expect(ids.count < model.config.maxLength)
            #expect(!ids.contains { banned.contains($0) })
            #expect(ids.filter { $0 == v.separatorID }.count == 1, "exactly one <sep>: \(ids)")
            var bigrams = Set<[Int]>()
            for i in 1 ..< ids.count { #expect(bigrams.insert([ids[i - 1], ids[i]]).inserted, "bigram repeated in \(ids)") }
        }
    }

    @Test func greedyPicksTheArgmaxAtEveryStep() throws {
        let model = try model()
        let features = try Tensor.randn([1, 1280, 2, 2])
        let memory = try withNoGrad { try model.memory(features) }
        let v = model.config.vocabulary
        let ids = try withNoGrad { try model.search(memory: memory, options: DecodingOptions(beamWidth: 1, noRepeatNGram: 0), banned: []) }
        // Replay: each chosen token is the most probable allowed one given the prefix.
        var prefix = [v.bosID]
        for (t, id) in ids.enumerated() {
            let logits = try withNoGrad {
                try model.decode(Tensor(prefix.map(Int64.init), shape: [1, prefix.count]), memory: memory).select(dim: 1, index: t)
            }.floats()
            var allowed = Array(0 ..< v.count)
            let separated = prefix.contains(v.separatorID)
            allowed.removeAll { $0 == (separated ? v.separatorID : v.eosID) || (t == 0 && $0 == v.separatorID) }
            // Out of room on the last step: only the closing token is allowed.
            if t == model.config.maxLength - 2 { allowed = [separated ? v.eosID : v.separatorID] }
            let best = allowed.max { logits[$0] < logits[$1] }!
            #expect(id == best, "step \(t)")
            prefix.append(id)
        }
    }

    /// Scripted log-probabilities with two ways to finish: a short draft "a <sep>" (p = 0.6 · 0.5, log p =
    /// −1.20 over 3 tokens) and a long one "b <sep> b b b b" (p = 0.4 · 0.6, log p = −1.43 over 7). The raw
    /// log-probability (α = 0) keeps the short one; α = 1 ranks by log p per token (−0.40 against −0.20) and
    /// keeps the long one.
    @Test func lengthPenaltyDecidesBetweenAShortAndALongDraft() throws {
        let model = try model()
        let v = model.config.vocabulary
        let a = v.id("ideal"), b = v.id("pairs")
        #expect(a != v.unknownID && b != v.unknownID)
        func row(_ ids: [Int]) -> [Float] {
            var row = [Float](repeating: -.infinity, count: v.count)
            let body = Array(ids.dropFirst())
            switch body {
            case []: row[a] = log(0.6); row[b] = log(0.4)
            case [a], [b]: row[v.separatorID] = 0
            case [a, v.separatorID]: row[v.eosID] = log(0.5)
            default:
                precondition(body.first == b, "unexpected beam \(body)")
                if body.count < 6 { row[b] = 0 } else { row[v.eosID] = log(0.6) }
            }
            return row
        }
        for (penalty, expected) in [(0.0, [a, v.separatorID]), (1.0, [b, v.separatorID, b, b, b, b])] {
            var search = BeamSearch(bos: v.bosID)
            let options = DecodingOptions(beamWidth: 2, lengthPenalty: penalty, noRepeatNGram: 0)
            for step in 1 ..< model.config.maxLength where !search.done {
                let rows = search.beams.flatMap { row($0.ids) }
                _ = search.advance(rows[...], step: step, model: model, options: options, banned: [])
            }
            #expect(search.done)
            #expect(search.finished.count == 2, "α = \(penalty): \(search.finished)")
            #expect(search.result == expected, "α = \(penalty): \(search.result)")
        }
    }

    @Test func noRepeatCompletionsFindEveryEarlierContinuation() {
        #expect(CaptionModel.repeatedNGramCompletions([1, 2, 3, 1, 2], n: 3) == [3])
        #expect(CaptionModel.repeatedNGramCompletions([5, 5, 5], n: 2) == [5])
        #expect(CaptionModel.repeatedNGramCompletions([1, 2], n: 3).isEmpty)
    }
}
