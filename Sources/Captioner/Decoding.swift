import Foundation
import Torch

/// Search settings for turning the decoder's distributions into text.
public struct DecodingOptions: Codable, Sendable, Equatable {
    /// 1 = greedy.
    public var beamWidth = 3
    /// Finished hypotheses are ranked by log p / length^α (α = 0: raw log-probability, favours short text).
    /// 0 by default: on the 344 validation products, α = 0, 0.15, 0.3, 0.5, 0.7, 1.0 gave BLEU-4 0.457,
    /// 0.455, 0.452, 0.446, 0.435, 0.423 (beam 3), the drafts already running 7 % longer than the
    /// references at 0.7 (README, captioner's Measured section).
    public var lengthPenalty = 0.0
    /// No n-gram of this order may appear twice (0 disables).
    public var noRepeatNGram = 4
    /// Step with the shim's fused decoder (one C call per token); false: the same step as libtorch
    /// operators from Swift (`stepLogProbabilities`), the reference it is tested and benchmarked against.
    public var fused = true
    public init(beamWidth: Int = 3, lengthPenalty: Double = 0.0, noRepeatNGram: Int = 4, fused: Bool = true) {
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
        try search(memories: memory, options: options, banned: banned, weights: weights)[0]
    }

    /// Beam searches over G images' decoder memory (G, M, d) at once. Each image keeps its own beams,
    /// finished hypotheses and stopping rule, so its text is the one it gets searched alone; the fused
    /// path steps every open beam of every image in one call (each row tagged with its image), reading the
    /// decoder's weights once per step for all of them. The operator path searches one image at a time.
    ///
    /// With two or more images and two or more libtorch threads, the fused path splits the images into
    /// two halves searched at the same time on two threads, each with its own decoder (the packed weights
    /// are shared). Each step's matrix products are the bulk of the search and a single thread's kernel
    /// is arithmetic-bound for a batch's rows, so the halves take about half as long; a row's arithmetic
    /// does not depend on which rows share its call, so the texts are the same.
    func search(memories: Tensor, options: DecodingOptions, banned: Set<Int>, weights: FusedDecoderWeights? = nil) throws -> [[Int]] {
        precondition(options.beamWidth >= 1, "beam width must be at least 1")
        let count = memories.shape[0]
        if !options.fused && count > 1 {
            return try (0 ..< count).map { try search(memories: memories.slice(dim: 0, $0 ..< $0 + 1), options: options, banned: banned)[0] }
        }
        guard options.fused else {
            return try searchTogether(count: count, stepper: .operators(try startCache(memory: memories)), options: options, banned: banned)
        }
        let packed = try weights ?? fusedDecoderWeights()
        guard count >= 2 && LibTorch.threads >= 2 else {
            let decoder = try fusedDecoder(memory: memories, rows: options.beamWidth * count, weights: packed)
            return try searchTogether(count: count, stepper: .fused(decoder), options: options, banned: banned)
        }
        // Decoders made here, on the calling thread (projecting the memory is a libtorch call); then only
        // the shim's own kernels and Swift run on the two threads.
        let halves = [0 ..< count / 2, count / 2 ..< count]
        let decoders = try halves.map { try fusedDecoder(memory: memories.slice(dim: 0, $0), rows: options.beamWidth * $0.count, weights: packed) }
        var results = [Result<[[Int]], any Error>](repeating: .success([]), count: 2)
        results.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out), decoders = UncheckedSendable(decoders), model = UncheckedSendable(self)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                out.value[half] = Result {
                    try model.value.searchTogether(count: halves[half].count, stepper: .fused(decoders.value[half]), options: options, banned: banned)
                }
            }
        }
        return try results[0].get() + results[1].get()
    }

    enum Stepper {
        case fused(FusedDecoder)
        case operators(DecoderCache)
    }

    /// The search loop over `count` images whose memory the stepper holds, all open beams stepped together.
    func searchTogether(count: Int, stepper: Stepper, options: DecodingOptions, banned: Set<Int>) throws -> [[Int]] {
        let v = config.vocabulary
        var searches = [BeamSearch](repeating: BeamSearch(bos: v.bosID), count: count)
        for step in 1 ..< config.maxLength {
            // Only the newest token of each open beam goes through the decoder; the cache holds the rest.
            var newest: [Int] = [], owners: [Int] = []
            for (image, search) in searches.enumerated() where !search.done {
                newest += search.beams.map { $0.ids[step - 1] }
                owners += Array(repeating: image, count: search.beams.count)
            }
            if newest.isEmpty { break }
            let logProbs: [Float]  // (rows · V)
            switch stepper {
            case .fused(let decoder): logProbs = try decoder.step(tokens: newest, images: owners, position: step - 1)
            case .operators(let cache): logProbs = try stepLogProbabilities(newest, position: step - 1, cache: cache).floats()
            }
            var parents: [Int] = [], offset = 0
            for image in searches.indices where !searches[image].done {
                let rows = searches[image].beams.count
                let kept = searches[image].advance(logProbs[offset * v.count ..< (offset + rows) * v.count], step: step,
                                                   model: self, options: options, banned: banned)
                parents += kept.map { $0 + offset }
                offset += rows
            }
            if parents.isEmpty { break }
            // Rows of the images that finished this step are dropped here.
            switch stepper {
            case .fused(let decoder): try decoder.reorder(parents: parents, length: step)
            case .operators(let cache): try cache.reorder(parents)
            }
        }
        return searches.map(\.result)
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

/// One image's beam search: its open beams, its finished hypotheses and whether it has stopped.
struct BeamSearch {
    struct Hypothesis { var ids: [Int]; var logp: Double; var separated: Bool }
    var beams: [Hypothesis]
    var finished: [(ids: [Int], score: Double)] = []
    private(set) var done = false

    init(bos: Int) { beams = [Hypothesis(ids: [bos], logp: 0, separated: false)] }

    /// Finished hypotheses are ranked by log p / length^α.
    static func normalized(_ h: Hypothesis, length: Int, penalty: Double) -> Double {
        h.logp / Foundation.pow(Double(max(length, 1)), penalty)
    }

    /// One step: `logProbs` holds a row of V log-probabilities per open beam. Keeps the best
    /// continuations and returns, for each new beam, the row (0 ..< beams.count) it continues; empty when
    /// the search stopped (`done`): no open beam can beat the best finished one, or every candidate ended.
    mutating func advance(_ logProbs: ArraySlice<Float>, step: Int, model: CaptionModel, options: DecodingOptions,
                          banned: Set<Int>) -> [Int] {
        precondition(!done, "the search has stopped")
        let v = model.config.vocabulary, maxLength = model.config.maxLength
        let base = logProbs.startIndex
        var candidates: [(beam: Int, token: Int, logp: Double)] = []
        for (i, beam) in beams.enumerated() {
            let row = logProbs[base + i * v.count ..< base + (i + 1) * v.count]
            var blocked = banned
            if beam.separated { blocked.insert(v.separatorID) } else { blocked.insert(v.eosID) }
            if step == 1 { blocked.insert(v.separatorID) }
            if options.noRepeatNGram > 0 { blocked.formUnion(CaptionModel.repeatedNGramCompletions(beam.ids, n: options.noRepeatNGram)) }
            if step == maxLength - 1 {
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
                finished.append((Array(parent.ids.dropFirst()), Self.normalized(h, length: parent.ids.count, penalty: options.lengthPenalty)))
            } else {
                next.append(Hypothesis(ids: parent.ids + [c.token], logp: c.logp, separated: parent.separated || c.token == v.separatorID))
                parents.append(c.beam)
            }
            if next.count == options.beamWidth { break }
        }
        // Stop when no open beam can beat the best finished one (scores only fall as text grows).
        if let best = finished.map(\.score).max(), finished.count >= options.beamWidth,
           next.allSatisfy({ Self.normalized($0, length: $0.ids.count, penalty: options.lengthPenalty) < best }) {
            done = true
            return []
        }
        if next.isEmpty { done = true; return [] }
        beams = next
        return parents
    }

    /// The best finished hypothesis, else the likeliest open beam: ids after `<bos>`.
    var result: [Int] {
        if let best = finished.max(by: { $0.score < $1.score }) { return best.ids }
        return Array(beams.max { $0.logp < $1.logp }!.ids.dropFirst())
    }
}
