import Catalog
import Foundation
import Scoring
import Torch

/// Caption, attribute and grounding metrics of a model on a set of examples.
public struct EvaluationReport: Codable, Sendable, Equatable {
    public var examples = 0
    /// BLEU-1…4 (sacrebleu-compatible, 0–1) of the descriptions against every reference description.
    public var bleu: [Double] = []
    public var rougeL = 0.0
    public var ciderD = 0.0
    /// Title exact match against the catalogue title.
    public var titleAccuracy = 0.0
    /// Per field: accuracy (gemstones: the predicted set equals the true set).
    public var accuracy: [String: Double] = [:]
    /// Metal colour (yellow, white, rose, two-tone) and gemstone-set accuracy with diamond ≡ cubic
    /// zirconia: what a photo can show.
    public var colourAccuracy: [String: Double] = [:]
    /// Per field: macro-F1 (gemstones: micro-F1 over per-stone decisions).
    public var macroF1: [String: Double] = [:]
    /// Expected calibration error of the top confidence, per single-valued field, and their mean.
    public var ece: [String: Double] = [:]
    /// Claims in drafts that their attribute head does not support (must be 0).
    public var groundingViolations = 0
    /// Claims in drafts that contradict the true label (the legal failure).
    public var falseClaims = 0
    /// False claims by field (metal, gemstone, category, forbidden).
    public var falseClaimsByField: [String: Int] = [:]
    /// Fields sent to review, summed over drafts.
    public var needsReview: [String: Int] = [:]
    public var secondsPerPhoto = 0.0
    /// Per single-valued field and true value: the share of its examples predicted right (recall), for
    /// the values present. Optional: reports recorded before it existed have none.
    public var recall: [String: [String: Double]]? = nil
    /// The descriptions' length over the references' (BLEU's lengths: 13a tokens, closest reference per
    /// draft, as sacrebleu's ratio); above 1 the drafts run longer, below it the brevity penalty bites.
    /// Optional: reports recorded before it existed have none.
    public var lengthRatio: Double? = nil

    public init() {}

    public var bleu4: Double { bleu.count >= 4 ? bleu[3] : 0 }
    public var meanAccuracy: Double { accuracy.isEmpty ? 0 : accuracy.values.reduce(0, +) / Double(accuracy.count) }
    /// The figure checkpoints are chosen by: text quality and attributes weighted alike.
    public var selectionScore: Double { bleu4 + rougeL + meanAccuracy }
}

public enum Evaluator {
    /// Drafts every example from its features (1 view each: row i) and scores them.
    public static func evaluate(drafter: Drafter, features: (Int) throws -> ImageFeatures, examples: [CaptionExample],
                                options: DecodingOptions, progress: (Int, Int) -> Void = { _, _ in }) throws -> (EvaluationReport, [Draft]) {
        var drafts: [Draft] = []
        var probabilities: [AttributeProbabilities] = []
        let start = Date()
        for i in examples.indices {
            let (draft, p) = try drafter.draftAndProbabilities(features: features(i), options: options)
            probabilities.append(p)
            drafts.append(draft)
            progress(i + 1, examples.count)
        }
        var report = score(drafts: drafts, probabilities: probabilities, examples: examples, grounding: drafter.grounding,
                           fields: drafter.model.config.fields, thresholds: drafter.model.config.thresholds)
        report.secondsPerPhoto = Date().timeIntervalSince(start) / Double(max(examples.count, 1))
        return (report, drafts)
    }

    /// Drafts every example from its first photo, read from `photos`, and scores them: how `loupe eval`,
    /// `loupe train --test` and the retraining job's held-out evaluation all measure a model.
    public static func evaluate(drafter: Drafter, examples: [CaptionExample], photos: any PhotoSource, options: DecodingOptions,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationReport {
        try evaluate(drafter: drafter, features: { i in try drafter.features(of: photos.photo(examples[i].images[0])) },
                     examples: examples, options: options, progress: progress).0
    }

    public static func score(drafts: [Draft], probabilities: [AttributeProbabilities], examples: [CaptionExample],
                             grounding: Grounding, fields: [AttributeField], thresholds: GroundingThresholds) -> EvaluationReport {
        var report = EvaluationReport()
        report.examples = examples.count
        guard !examples.isEmpty else { return report }
        let hypotheses = drafts.map(\.description)
        let references = examples.map(\.descriptions)
        let bleu = BLEU().corpusScore(hypotheses: hypotheses, references: references)
        report.bleu = bleu.cumulative
        report.lengthRatio = Double(bleu.hypothesisLength) / Double(max(bleu.referenceLength, 1))
        report.rougeL = RougeL.corpusF(hypotheses: hypotheses, references: references)
        report.ciderD = CIDErD.score(hypotheses: hypotheses.map(CIDErD.normalize),
                                     references: references.map { $0.map(CIDErD.normalize) }).mean
        report.titleAccuracy = Double(zip(drafts, examples).filter { $0.title == $1.title }.count) / Double(examples.count)
        for field in fields {
            if field.multiple {
                // Exact set match, and the same with diamond and cubic zirconia counted as one (a photo
                // cannot tell them apart).
                var exact = 0, families = 0, predictedFlags: [Bool] = [], trueFlags: [Bool] = []
                for (p, e) in zip(probabilities, examples) {
                    let predicted = Set(p.gemstoneSet(exclusive: grounding.taxonomy.gemstone.exclusive).values.map(\.value))  // as the draft lists them
                    if predicted == Set(e.attributes.gemstones) { exact += 1 }
                    if Set(predicted.map(Grounding.gemstoneFamily)) == Set(e.attributes.gemstones.map(Grounding.gemstoneFamily)) { families += 1 }
                    for value in field.values where value != "none" {
                        predictedFlags.append(predicted.contains(value))
                        trueFlags.append(e.attributes.gemstones.contains(value))
                    }
                }
                report.accuracy[field.name] = Double(exact) / Double(examples.count)
                report.colourAccuracy["gemstone"] = Double(families) / Double(examples.count)
                report.macroF1[field.name] = Classification.binaryF1(predicted: predictedFlags, truth: trueFlags)
            } else {
                var predicted: [Int] = [], truth: [Int] = [], confidences: [Double] = [], correct: [Bool] = []
                for (p, e) in zip(probabilities, examples) {
                    let (value, confidence) = p.top(field.name) ?? ("", 0)
                    let t = e.attributes.value(field.name)
                    predicted.append(field.values.firstIndex(of: value) ?? -1)
                    truth.append(field.values.firstIndex(of: t) ?? -2)
                    confidences.append(confidence)
                    correct.append(value == t)
                }
                report.accuracy[field.name] = Classification.accuracy(predicted: predicted, truth: truth)
                report.macroF1[field.name] = Classification.macroF1(predicted: predicted, truth: truth)
                report.ece[field.name] = Classification.expectedCalibrationError(confidences: confidences, correct: correct)
                var perValue: [String: (hits: Int, count: Int)] = [:]
                for (e, right) in zip(examples, correct) {
                    let t = e.attributes.value(field.name)
                    perValue[t, default: (0, 0)].count += 1
                    if right { perValue[t, default: (0, 0)].hits += 1 }
                }
                report.recall = report.recall ?? [:]
                report.recall?[field.name] = perValue.mapValues { Double($0.hits) / Double($0.count) }
                if field.name == "metal" {
                    let hits = zip(probabilities, examples).filter { p, e in
                        grounding.topMetalFamily(p)?.family == Grounding.metalFamily(e.attributes.metal)
                    }.count
                    report.colourAccuracy["metal"] = Double(hits) / Double(examples.count)
                }
            }
        }
        for (draft, (p, e)) in zip(drafts, zip(probabilities, examples)) {
            let text = draft.title + " " + draft.description
            report.groundingViolations += grounding.violations(in: text, probabilities: p, thresholds: thresholds).count
            let wrong = grounding.falseClaims(in: text, truth: e.attributes)
            report.falseClaims += wrong.count
            for claim in wrong { report.falseClaimsByField[claim.field, default: 0] += 1 }
            for field in draft.needsReview { report.needsReview[field, default: 0] += 1 }
        }
        return report
    }
}
