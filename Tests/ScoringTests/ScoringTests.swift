import Foundation
import Scoring
import Testing

/// The Swift metrics against sacrebleu 2.6.0, rouge-score 0.1.2 and pycocoevalcap 1.2 on the same strings
/// (installed by `scripts/install-pyref.sh`, which `make test` runs).
@Suite struct ReferenceMetricTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Reference: Decodable {
        let bleu: [Double]
        /// sacrebleu's hypothesis and closest-reference lengths.
        let bleuLengths: [Int]
        let rougeL: Double
        let cider: Double?
        let ciderScores: [Double]?
    }

    static func reference(_ hypotheses: [String], _ references: [[String]], cider: Bool = false) throws -> Reference {
        let python = root.appendingPathComponent(".cache/pyref/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(python.path): run scripts/install-pyref.sh"])
        }
        var body: [String: Any] = ["hypotheses": hypotheses, "references": references]
        if cider {
            body["cider"] = ["hypotheses": hypotheses.map(CIDErD.normalize),
                             "references": references.map { $0.map(CIDErD.normalize) }]
        }
        let process = Process()
        process.executableURL = python
        process.arguments = [root.appendingPathComponent("Tests/ScoringTests/reference_metrics.py").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: body))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    // Punctuation, numbers with separators, hyphens after digits, HTML entities, case, repeats, a short
    // hypothesis (brevity penalty), one with no 4-gram match (smoothing), ragged reference sets.
    static let hypotheses = [
        "A yellow gold solitaire ring with a brilliant-cut sapphire. Perfect for engagements.",
        "This 18k-look ring costs $1,200.50 (approx.) — shipped in 2-3 days!",
        "the the the the",
        "Rose gold hoop earrings, hand-hammered.",
        "Sterling silver &amp; onyx cuff; bold, statement piece: 925?",
        "short",
        "A pair of drop earrings in white gold with freshwater pearls. They are ideal for weddings.",
        "It is a vintage ring in rich yellow gold.",
    ]
    static let references = [
        ["A single-stone ring crafted in yellow gold with a sapphire. Perfect for engagements.",
         "This rich yellow gold solitaire ring features a brilliant-cut sapphire."],
        ["This ring costs $1,200.50 and ships in 2-3 days.", "Ships in 2 - 3 days; costs 1,200.50 dollars!"],
        ["The cat is on the mat.", "There is a cat on the mat."],
        ["Rose gold hoop earrings with a hand-hammered texture.", "A pair of hoop earrings in blush rose gold."],
        ["A sterling silver &amp; onyx cuff with bold statement presence."],
        ["A long reference sentence that makes the brevity penalty bite hard."],
        ["A pair of drop earrings crafted in white gold with lustrous pearls. They are ideal for weddings.",
         "These white gold drop earrings feature freshwater pearls.", "Pearls and white gold, made for weddings."],
        ["It is a vintage ring in rich yellow gold.", "A vintage ring in yellow gold."],
    ]

    @Test func bleuMatchesSacrebleu() throws {
        let reference = try Self.reference(Self.hypotheses, Self.references)
        let score = BLEU().corpusScore(hypotheses: Self.hypotheses, references: Self.references)
        for n in 0 ..< 4 {
            #expect(abs(score.cumulative[n] - reference.bleu[n]) < 1e-4, "BLEU-\(n + 1): \(score.cumulative[n]) vs \(reference.bleu[n])")
        }
        #expect([score.hypothesisLength, score.referenceLength] == reference.bleuLengths)
        // A corpus-level change must move the score: drop the perfect match.
        let worse = BLEU().corpusScore(hypotheses: Array(Self.hypotheses.dropLast()), references: Array(Self.references.dropLast()))
        #expect(worse.bleu4 < score.bleu4)
    }

    @Test func bleuOfOneSentenceAtATime() throws {
        for (h, r) in zip(Self.hypotheses, Self.references) {
            let reference = try Self.reference([h], [r])
            let score = BLEU().corpusScore(hypotheses: [h], references: [r])
            for n in 0 ..< 4 { #expect(abs(score.cumulative[n] - reference.bleu[n]) < 1e-4, "\(h) BLEU-\(n + 1)") }
        }
    }

    @Test func tokenizer13aSplitsAsMteval() {
        #expect(Tokenizer13a.tokenize("costs $1,200.50 (approx.) in 2-3 days!") ==
            ["costs", "$", "1,200.50", "(", "approx", ".", ")", "in", "2", "-", "3", "days", "!"])
        // A dash splits only after a digit: "18k-look" stays whole, "18-carat" does not.
        #expect(Tokenizer13a.tokenize("hand-hammered, 18k-look 18-carat.") ==
            ["hand-hammered", ",", "18k-look", "18", "-", "carat", "."])
    }

    @Test func rougeLMatchesRougeScore() throws {
        let reference = try Self.reference(Self.hypotheses, Self.references)
        let f = RougeL.corpusF(hypotheses: Self.hypotheses, references: Self.references)
        #expect(abs(f - reference.rougeL) < 1e-6, "\(f) vs \(reference.rougeL)")
        #expect(RougeL.tokenize("Sterling-Silver &amp; 925!") == ["sterling", "silver", "amp", "925"])
    }

    @Test func ciderDMatchesPycocoevalcap() throws {
        let reference = try Self.reference(Self.hypotheses, Self.references, cider: true)
        let (mean, scores) = CIDErD.score(hypotheses: Self.hypotheses.map(CIDErD.normalize),
                                          references: Self.references.map { $0.map(CIDErD.normalize) })
        #expect(abs(mean - reference.cider!) < 1e-6, "\(mean) vs \(reference.cider!)")
        for (a, b) in zip(scores, reference.ciderScores!) { #expect(abs(a - b) < 1e-6) }
    }
}

@Suite struct ClassificationMetricTests {
    @Test func accuracyAndMacroF1() {
        // Worked by hand: class 0 (tp 2, fp 1, fn 0) F1 = 4/5; class 1 (tp 1, fp 1, fn 1) F1 = 2/4; class 2 F1 = 0.
        let truth = [0, 0, 1, 1, 2], predicted = [0, 0, 1, 0, 1]
        #expect(abs(Classification.accuracy(predicted: predicted, truth: truth) - 0.6) < 1e-12)
        // scikit-learn: f1_score([0,0,1,1,2], [0,0,1,0,1], average="macro") = 0.4333…
        #expect(abs(Classification.macroF1(predicted: predicted, truth: truth) - (0.8 + 0.5 + 0) / 3) < 1e-12)
    }

    @Test func expectedCalibrationError() {
        // Two bins used: (0.6, 0.667] holds 0.62 (wrong) and 0.65 (right): |0.5 − 0.635| = 0.135;
        // (0.933, 1] holds 0.95, 0.99 (both right): |1 − 0.97| = 0.03. ECE = 0.5·0.135 + 0.5·0.03.
        let ece = Classification.expectedCalibrationError(confidences: [0.62, 0.65, 0.95, 0.99],
                                                          correct: [false, true, true, true])
        #expect(abs(ece - (0.5 * 0.135 + 0.5 * 0.03)) < 1e-12)
        #expect(Classification.expectedCalibrationError(confidences: [1, 1], correct: [true, true]) == 0)
    }
}
