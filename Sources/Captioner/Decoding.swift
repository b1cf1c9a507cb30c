import Foundation
import Torch

/// Search settings for turning the decoder's distributions into text.
public struct DecodingOptions: Codable, Sendable, Equatable {
    /// 1 = greedy.
    public var beamWidth = 3
    /// Finished hypotheses are ranked by log p / length^α (α = 0: raw log-probability, favours short text).
    public var lengthPenalty = 0.7
    /// No n-gram of this order may appear twice (0 disables).
    public var noRepeatNGram = 4
    /// Step with the shim's fused decoder (one C call per token); false: the same step as libtorch
    /// operators from Swift (`stepLogProbabilities`), the reference it is tested and benchmarked against.
    public var fused = true
    public init(beamWidth: Int = 3, lengthPenalty: Double = 0.7, noRepeatNGram: Int = 4, fused: Bool = true) {
        (self.beamWidth, self.lengthPenalty, self.noRepeatNGram, self.fused) = (beamWidth, lengthPenalty, noRepeatNGram, fused)
    }
}

extension CaptionModel {
    /// Token ids the decoder may never emit: claim words (metal, stone and category names, karat and
    /// hallmark terms), `<pad>`, `<bos>`, `<unk>`. Claims enter only through slots.
    public func bannedTokenIDs(grounding: Grounding) -> Set<Int> {
        let v = config.vocabulary
        var banned: Set<Int> = [v.padID, v.bosID, v.unknownID]
        for (id, token) in v.tokens.enumerated() where grounding.claimWords.contains(token.lowercased()) { banned.insert(id) }
        return banned
    }

    /// Beam search over one image's decoder memory (1, M, d). Returns ids after `<bos>` up to and
    /// excluding `<eos>`. `weights`: the fused step's packed weights (`fusedDecoderWeights()`), packed
    /// afresh for this search when nil.
    func search(memory: Tensor, options: DecodingOptions, banned: Set<Int>, weights: FusedDecoderWeights? = nil) throws -> [Int] {
        precondition(options.beamWidth >= 1, "beam width must be at least 1")
        let v = config.vocabulary
        struct Hypothesis { var ids: [Int]; var logp: Double; var separated: Bool }
        var beams = [Hypothesis(ids: [v.bosID], logp: 0, separated: false)]
        var finished: [(ids: [Int], score: Double)] = []
        func normalized(_ h: Hypothesis, length: Int) -> Double {
            h.logp / Foundation.pow(Double(max(length, 1)), options.lengthPenalty)
        }
        let cache = options.fused ? nil : try startCache(memory: memory)
        let decoder = options.fused ? try fusedDecoder(memory: memory, rows: options.beamWidth, weights: weights) : nil
        for step in 1 ..< config.maxLength {
            // Only the newest token of each beam goes through the decoder; the cache holds the rest.
            let newest = beams.map { $0.ids[step - 1] }
            let logProbs: [Float]  // (B · V)
            if let decoder { logProbs = try decoder.step(tokens: newest, position: step - 1) }
            else { logProbs = try stepLogProbabilities(newest, position: step - 1, cache: cache!).floats() }
            var candidates: [(beam: Int, token: Int, logp: Double)] = []
            for (i, beam) in beams.enumerated() {
                let row = logProbs[i * v.count ..< (i + 1) * v.count]
                var blocked = banned
                if beam.separated { blocked.insert(v.separatorID) } else { blocked.insert(v.eosID) }
                if step == 1 { blocked.insert(v.separatorID) }
                if options.noRepeatNGram > 0 { blocked.formUnion(Self.repeatedNGramCompletions(beam.ids, n: options.noRepeatNGram)) }
                if step == config.maxLength - 1 {
                    // Out of room: close the text (or the title) now.
                    blocked = Set(0 ..< v.count).subtracting([beam.separated ? v.eosID : v.separatorID])
                }
                // The best few allowed tokens of this beam.
                var best: [(Int, Double)] = []
                for (offset, value) in row.enumerated() where !blocked.contains(offset) && value.isFinite {
                    let lp = Double(value)
                    if best.count < options.beamWidth { best.append((offset, lp)); best.sort { $0.1 > $1.1 } }
                    else if lp > best[best.count - 1].1 { best[best.count - 1] = (offset, lp); best.sort { $0.1 > $1.1 } }
                }
                for (token, lp) in best { candidates.append((i, token, beam.logp + lp)) }
            }
            candidates.sort { $0.logp > $1.logp }
            var next: [Hypothesis] = [], parents: [Int] = []
            for c in candidates {
                let parent = beams[c.beam]
                if c.token == v.eosID {
                    let h = Hypothesis(ids: parent.ids, logp: c.logp, separated: true)
                    finished.append((Array(parent.ids.dropFirst()), normalized(h, length: parent.ids.count)))
                } else {
                    next.append(Hypothesis(ids: parent.ids + [c.token], logp: c.logp,
                                           separated: parent.separated || c.token == v.separatorID))
                    parents.append(c.beam)
                }
                if next.count == options.beamWidth { break }
            }
            // Stop when no open beam can beat the best finished one (scores only fall as text grows).
            if let best = finished.map(\.score).max(), finished.count >= options.beamWidth,
               next.allSatisfy({ normalized($0, length: $0.ids.count) < best }) { break }
            if next.isEmpty { break }
            try cache?.reorder(parents)
            try decoder?.reorder(parents: parents, length: step)
            beams = next
        }
        if let best = finished.max(by: { $0.score < $1.score }) { return best.ids }
        return Array(beams.max { $0.logp < $1.logp }!.ids.dropFirst())
    }

    /// Tokens that would complete an n-gram already present in `ids`.
    static func repeatedNGramCompletions(_ ids: [Int], n: Int) -> Set<Int> {
        guard ids.count >= n else { return [] }
        let prefix = ids.suffix(n - 1)
        var out = Set<Int>()
        for start in 0 ... ids.count - n where ids[start ..< start + n - 1].elementsEqual(prefix) { out.insert(ids[start + n - 1]) }
        return out
    }
}
