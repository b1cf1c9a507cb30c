import Foundation

/// NB-SVM (Wang & Manning 2012), the bigram baseline: binarised unigram + bigram features of BERT's
/// basic (lower-cased, accent-stripped, punctuation-split) words, scaled by the naive-Bayes log-count
/// ratio r = log((p/‖p‖₁)/(q/‖q‖₁)) with p, q = α + feature counts in positive and negative
/// sentences; an L2-regularised squared-hinge linear SVM on r ∘ x, solved exactly by dual coordinate
/// descent (Hsieh et al. 2008, liblinear's `-s 1` with a bias feature `-B 1`); then the weights are
/// interpolated towards their mean magnitude, w′ = (1 − β)·w̄ + β·w.
public struct NBSVM: Codable, Sendable {
    public struct Options: Codable, Sendable, Equatable {
        public var alpha = 1.0
        public var c = 1.0
        public var beta = 0.25
        public var maxPasses = 200
        public var tolerance = 1e-4
        public var seed: UInt64 = 0
        public init() {}
    }

    public let options: Options
    /// Feature (n-gram) → index into `ratios` and `weights`.
    public let features: [String: Int]
    public let ratios: [Double]
    /// The interpolated weights w′ and the bias.
    public let weights: [Double]
    public let bias: Double
    public var labels = ["negative", "positive"]
    public var version = ""

    /// Unigrams and bigrams of a text, once each.
    public static func ngrams(_ text: String) -> Set<String> {
        let words = BasicTokenizer.tokenize(text)
        var out = Set(words)
        for (a, b) in zip(words, words.dropFirst()) { out.insert(a + " " + b) }
        return out
    }

    /// Trains on (text, label ∈ {0, 1}) pairs.
    public static func train(_ examples: [(text: String, label: Int)], options: Options = Options()) -> NBSVM {
        precondition(Set(examples.map(\.label)) == [0, 1], "both labels are needed")
        var features: [String: Int] = [:]
        let rows: [[Int]] = examples.map { example in
            ngrams(example.text).sorted().map { gram in
                if let i = features[gram] { return i }
                features[gram] = features.count
                return features.count - 1
            }
        }
        let d = features.count
        var p = [Double](repeating: options.alpha, count: d), q = p
        for (row, example) in zip(rows, examples) {
            for i in row { if example.label == 1 { p[i] += 1 } else { q[i] += 1 } }
        }
        let pSum = p.reduce(0, +), qSum = q.reduce(0, +)
        let r = (0 ..< d).map { Foundation.log((p[$0] / pSum) / (q[$0] / qSum)) }
        // Dual coordinate descent for min ½‖w‖² + C Σ max(0, 1 − y wᵀx)², x = r ∘ binary features + bias 1.
        var w = [Double](repeating: 0, count: d + 1)
        var alpha = [Double](repeating: 0, count: examples.count)
        let y = examples.map { $0.label == 1 ? 1.0 : -1.0 }
        let diagonal = 1 / (2 * options.c)
        let qii = rows.map { row in row.reduce(1.0) { $0 + r[$1] * r[$1] } + diagonal }  // ‖x_i‖² (+1 for the bias) + D_ii
        var order = Array(examples.indices)
        var rng = SeededGenerator(seed: options.seed)
        for _ in 0 ..< options.maxPasses {
            order.shuffle(using: &rng)
            var maxViolation = 0.0
            for i in order {
                var margin = w[d]
                for j in rows[i] { margin += w[j] * r[j] }
                let g = y[i] * margin - 1 + diagonal * alpha[i]
                let projected = alpha[i] == 0 ? min(g, 0) : g
                maxViolation = max(maxViolation, abs(projected))
                guard projected != 0 else { continue }
                let old = alpha[i]
                alpha[i] = max(old - g / qii[i], 0)
                let step = (alpha[i] - old) * y[i]
                for j in rows[i] { w[j] += step * r[j] }
                w[d] += step
            }
            if maxViolation < options.tolerance { break }
        }
        let mean = w[0 ..< d].reduce(0) { $0 + abs($1) } / Double(max(d, 1))
        let interpolated = w[0 ..< d].map { (1 - options.beta) * mean + options.beta * $0 }
        return NBSVM(options: options, features: features, ratios: r, weights: interpolated, bias: w[d])
    }

    /// wᵀ(r ∘ x) + b: positive means positive.
    public func score(_ text: String) -> Double {
        NBSVM.ngrams(text).reduce(bias) { sum, gram in features[gram].map { sum + weights[$0] * ratios[$0] } ?? sum }
    }

    /// The label, with a confidence from the margin (a logistic of the score: the SVM gives no
    /// probabilities; documented as uncalibrated).
    public func predict(_ texts: [String]) -> [SentimentPrediction] {
        texts.map { text in
            let s = score(text)
            let p = 1 / (1 + Foundation.exp(-2 * s))
            return s > 0 ? SentimentPrediction(prediction: labels[1], confidence: p) : SentimentPrediction(prediction: labels[0], confidence: 1 - p)
        }
    }
}
