import Foundation

/// CIDEr-D exactly as pycocoevalcap 1.2's `Cider` computes it: TF-IDF vectors of 1–4-grams with document
/// frequencies over the references of the evaluated corpus, clipped cosine similarity, a Gaussian length
/// penalty (σ = 6), averaged over orders and references, ×10. Inputs are tokenised already (split on
/// spaces), as after COCO's PTB tokenizer; `normalize` lowercases and drops punctuation for that.
/// (pycocoevalcap's length for the penalty counts bigrams, not words; reproduced here on purpose.)
public enum CIDErD {
    public static let n = 4
    public static let sigma = 6.0

    /// Lowercase, punctuation removed, single spaces: a stand-in for the PTB tokenizer on plain prose.
    public static func normalize(_ text: String) -> String {
        let kept = text.lowercased().unicodeScalars.map { scalar -> Character in
            CharacterSet.alphanumerics.contains(scalar) || scalar == "-" || scalar == "'" ? Character(scalar) : " "
        }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    /// Per-image scores and their mean.
    public static func score(hypotheses: [String], references: [[String]]) -> (mean: Double, scores: [Double]) {
        precondition(hypotheses.count == references.count, "one reference set per hypothesis")
        guard !hypotheses.isEmpty else { return (0, []) }
        let tests = hypotheses.map { counts($0) }
        let refs = references.map { $0.map { counts($0) } }
        var documentFrequency: [NGram: Double] = [:]
        for set in refs {
            var seen = Set<NGram>()
            for ref in set { for gram in ref.keys { seen.insert(gram) } }
            for gram in seen { documentFrequency[gram, default: 0] += 1 }
        }
        let logRefCount = Foundation.log(Double(refs.count))

        func vector(_ counts: [NGram: Int]) -> (vec: [[NGram: Double]], norm: [Double], length: Int) {
            var vec = [[NGram: Double]](repeating: [:], count: n), norm = [Double](repeating: 0, count: n)
            var length = 0
            for (gram, tf) in counts {
                let df = Foundation.log(max(1.0, documentFrequency[gram] ?? 0))
                let order = gram.order - 1
                let value = Double(tf) * (logRefCount - df)
                vec[order][gram] = value
                norm[order] += value * value
                if order == 1 { length += tf }
            }
            return (vec, norm.map { $0.squareRoot() }, length)
        }

        var scores: [Double] = []
        for (test, refSet) in zip(tests, refs) {
            let (vec, norm, length) = vector(test)
            var total = [Double](repeating: 0, count: n)
            for ref in refSet {
                let (vecRef, normRef, lengthRef) = vector(ref)
                let delta = Double(length - lengthRef)
                for order in 0 ..< n {
                    var value = 0.0
                    for (gram, v) in vec[order] {
                        let r = vecRef[order][gram] ?? 0
                        value += min(v, r) * r
                    }
                    if norm[order] != 0 && normRef[order] != 0 { value /= norm[order] * normRef[order] }
                    total[order] += value * Foundation.exp(-(delta * delta) / (2 * sigma * sigma))
                }
            }
            scores.append(total.reduce(0, +) / Double(n) / Double(refSet.count) * 10)
        }
        return (scores.reduce(0, +) / Double(scores.count), scores)
    }

    static func counts(_ text: String) -> [NGram: Int] {
        NGram.counts(text.split(separator: " ").map(String.init), upTo: n)
    }
}
