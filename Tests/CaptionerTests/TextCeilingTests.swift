import Captioner
import Catalog
import Scoring
import Testing

@Suite struct TextCeilingTests {
    @Test func expectedMaximumEqualsTheMeanOverEveryDraw() {
        let values = [0.31, 0.9, 0.05, 0.62, 0.62, 0.47, 0.18]
        func subsets(_ k: Int, from start: Int) -> [[Int]] {
            if k == 0 { return [[]] }
            guard start < values.count else { return [] }
            return subsets(k - 1, from: start + 1).map { [start] + $0 } + subsets(k, from: start + 1)
        }
        for k in 1 ... values.count {
            let draws = subsets(k, from: 0)
            let brute = draws.map { $0.map { values[$0] }.max()! }.reduce(0, +) / Double(draws.count)
            #expect(abs(TextCeiling.expectedMaximum(of: values, drawing: k) - brute) < 1e-12, "k = \(k)")
        }
    }

    @Test func minimumRiskChoiceDependsOnHowManyReferencesCount() {
        let tokens = { (texts: [String]) in texts.map(RougeL.tokenize) }
        let candidates = tokens(["x y", "a b c d"])
        let simulated = tokens(["a b c d", "a b c e", "x y"])
        // One reference: "a b c d" expects (1 + 0.75 + 0) / 3, "x y" 1 / 3.
        #expect(TextCeiling.minimumRiskChoice(candidates: candidates, simulated: simulated, k: 1) == 1)
        // Two: (1 + 1 + 0.75) / 3 against (0 + 1 + 1) / 3.
        #expect(TextCeiling.minimumRiskChoice(candidates: candidates, simulated: simulated, k: 2) == 1)
        // All three: both reach 1 in the only draw, and the first wins the tie.
        #expect(TextCeiling.minimumRiskChoice(candidates: candidates, simulated: simulated, k: 3) == 0)
    }

    @Test func scoresEachReferenceAgainstTheOthersAndGrammarTextsAgainstAll() {
        let ring = Attributes(category: "ring", metal: "platinum", gemstones: ["none"], style: "minimalist", finish: "polished")
        let products = [
            TextCeiling.Product(attributes: ring, design: "band", references: ["qq rr ss", "qq rr tt"]),
            TextCeiling.Product(attributes: ring, design: "band", references: ["zz"]),
        ]
        let report = TextCeiling(samples: 4).measure(products, seed: 7)
        #expect(report.products == 2 && report.rows.count == 3)
        let leftOut = report.rows[0]
        // Each of the first product's references against the other: LCS 2 of 3 tokens both ways.
        #expect(leftOut.count == 2)
        #expect(abs(leftOut.rougeL - 2.0 / 3.0) < 1e-12)
        // The grammar's texts share no word with these references but are scored against them, per product.
        #expect(report.rows[1].count == 2 && report.rows[2].count == 2)
        #expect(report.rows[1].rougeL == 0 && report.rows[2].rougeL == 0)
        // Against references the grammar wrote for the same attributes, its texts share most words.
        var rng = SplitMix(seed: 3)
        let written = DescriptionGrammar().descriptions(ring, design: "band", count: 4, rng: &rng)
        let own = TextCeiling(samples: 8).measure([.init(attributes: ring, design: "band", references: written)], seed: 7)
        #expect(own.rows[1].rougeL > 0.3 && own.rows[2].rougeL > 0.3)
    }
}
