import Catalog
import Foundation
import Scoring

/// What the text metrics can reach on a catalogue whose references a grammar wrote (`DescriptionGrammar`):
/// each reference picks its phrasings, sentence count and occasion at random, and a photo cannot predict
/// them. Three texts are scored against the same references as `eval captioner` scores a model's:
/// - one reference against the product's other references (what an equally valid text scores);
/// - a fresh text from the grammar with the product's true attributes (a model that gets every
///   attribute right and writes exactly as the references do);
/// - of `samples` such texts, the one with the best expected ROUGE-L F against reference sets drawn from
///   the same grammar (minimum Bayes risk: the best a model that knows the grammar could choose without
///   seeing the references).
public struct TextCeiling: Sendable {
    public struct Product: Sendable {
        public var attributes: Attributes
        public var design: String
        public var references: [String]
        public init(attributes: Attributes, design: String, references: [String]) {
            (self.attributes, self.design, self.references) = (attributes, design, references)
        }
    }

    public struct Row: Codable, Sendable, Equatable {
        public var text: String
        /// Hypotheses scored (products, or references for the leave-one-out row).
        public var count: Int
        public var bleu4: Double
        public var rougeL: Double
        public var ciderD: Double
    }

    public struct Report: Codable, Sendable, Equatable {
        public var products: Int
        public var samples: Int
        public var rows: [Row]
    }

    public let grammar: DescriptionGrammar
    /// Candidate texts per product for the choice, and as many simulated references to choose against.
    public let samples: Int

    public init(grammar: DescriptionGrammar = DescriptionGrammar(), samples: Int = 32) {
        precondition(samples >= 1, "at least one sample")
        (self.grammar, self.samples) = (grammar, samples)
    }

    public func measure(_ products: [Product], seed: UInt64) -> Report {
        var rng = SplitMix(seed: seed)
        // One reference against the others: only products with at least two references.
        var leftOut: [String] = [], others: [[String]] = []
        for product in products where product.references.count >= 2 {
            for (i, reference) in product.references.enumerated() {
                leftOut.append(reference)
                others.append(product.references.enumerated().filter { $0.offset != i }.map(\.element))
            }
        }
        var fresh: [String] = [], chosen: [String] = []
        for product in products {
            precondition(!product.references.isEmpty, "a product without references")
            let candidates = (0 ..< samples).map { _ in grammar.description(product.attributes, design: product.design, rng: &rng) }
            let simulated = (0 ..< samples).map { _ in grammar.description(product.attributes, design: product.design, rng: &rng) }
            fresh.append(candidates[0])
            let k = min(product.references.count, simulated.count)
            let pick = Self.minimumRiskChoice(candidates: candidates.map(RougeL.tokenize), simulated: simulated.map(RougeL.tokenize), k: k)
            chosen.append(candidates[pick])
        }
        let references = products.map(\.references)
        return Report(products: products.count, samples: samples, rows: [
            Self.row("one reference against the others", leftOut, others),
            Self.row("a grammar text from the true attributes", fresh, references),
            Self.row("the minimum-risk choice of \(samples) such texts", chosen, references),
        ])
    }

    static func row(_ text: String, _ hypotheses: [String], _ references: [[String]]) -> Row {
        Row(text: text, count: hypotheses.count,
            bleu4: hypotheses.isEmpty ? 0 : BLEU().corpusScore(hypotheses: hypotheses, references: references).bleu4,
            rougeL: RougeL.corpusF(hypotheses: hypotheses, references: references),
            ciderD: hypotheses.isEmpty ? 0 : CIDErD.score(hypotheses: hypotheses.map(CIDErD.normalize),
                                                          references: references.map { $0.map(CIDErD.normalize) }).mean)
    }

    /// The candidate whose expected best-of-`k` ROUGE-L F, over `k` references drawn without replacement
    /// from `simulated`, is highest (the first on ties).
    public static func minimumRiskChoice(candidates: [[String]], simulated: [[String]], k: Int) -> Int {
        precondition(!candidates.isEmpty && k >= 1 && k <= simulated.count, "k must be in 1…\(simulated.count)")
        var best = 0, bestValue = -Double.infinity
        for (i, candidate) in candidates.enumerated() {
            let scores = simulated.map { RougeL.score(reference: $0, hypothesis: candidate).f }
            let value = expectedMaximum(of: scores, drawing: k)
            if value > bestValue { (best, bestValue) = (i, value) }
        }
        return best
    }

    /// E[max] of `k` values drawn without replacement from `values`: sorted ascending, the i-th (1-based)
    /// is the maximum in C(i−1, k−1) of the C(n, k) draws.
    public static func expectedMaximum(of values: [Double], drawing k: Int) -> Double {
        let n = values.count
        precondition(k >= 1 && k <= n, "k must be in 1…\(n)")
        let sorted = values.sorted()
        // weight(i) = C(i−1, k−1) / C(n, k), built up from i = k, where it is 1 / C(n, k).
        var weight = 1.0
        for j in 0 ..< k { weight *= Double(k - j) / Double(n - j) }
        var total = 0.0
        for i in k ... n {
            total += weight * sorted[i - 1]
            weight *= Double(i) / Double(i - k + 1)  // C(i, k−1) / C(i−1, k−1)
        }
        return total
    }
}
