import Foundation

/// Decides whether a retrained candidate may replace the active model: on the same held-out split it
/// must not be worse than the active model by more than `tolerance` on BLEU-4, ROUGE-L or any
/// attribute's accuracy, and must not make more grounding violations (or false claims) than allowed.
public struct PromotionGuard: Codable, Sendable, Equatable {
    /// Largest allowed drop of BLEU-4, ROUGE-L and each attribute accuracy (absolute, 0–1). The default,
    /// 0.02, is about 1.6 of the fixture test split's 82 products: one flipped product is noise, not a regression.
    public var tolerance = 0.02
    /// Extra grounding violations allowed over the active model's count.
    public var violationTolerance = 0
    /// Extra false claims (claims contradicting the true label) allowed over the active model's count.
    public var falseClaimTolerance = 0

    public init(tolerance: Double = 0.02, violationTolerance: Int = 0, falseClaimTolerance: Int = 0) {
        precondition(tolerance >= 0 && violationTolerance >= 0 && falseClaimTolerance >= 0, "tolerances are not negative")
        (self.tolerance, self.violationTolerance, self.falseClaimTolerance) = (tolerance, violationTolerance, falseClaimTolerance)
    }

    /// One compared figure.
    public struct Comparison: Codable, Sendable, Equatable {
        public let metric: String
        public let active: Double
        public let candidate: Double
        public let passed: Bool
    }

    public struct Verdict: Codable, Sendable, Equatable {
        public let promote: Bool
        /// Why not, one line per failed figure ("metal accuracy 0.612 < active 0.700 − 0.010").
        public let reasons: [String]
        public let comparisons: [Comparison]

        public var summary: String {
            promote ? "not worse than the active model on the held-out split" : "worse than the active model: " + reasons.joined(separator: "; ")
        }
    }

    public func judge(candidate: EvaluationReport, active: EvaluationReport) -> Verdict {
        precondition(candidate.examples == active.examples, "both models are judged on the same held-out examples")
        var comparisons: [Comparison] = []
        var reasons: [String] = []
        func higherIsBetter(_ name: String, _ a: Double, _ c: Double) {
            let passed = c >= a - tolerance - 1e-12
            comparisons.append(Comparison(metric: name, active: a, candidate: c, passed: passed))
            if !passed { reasons.append(String(format: "%@ %.3f < active %.3f − %.3f", name, c, a, tolerance)) }
        }
        func count(_ name: String, _ a: Int, _ c: Int, _ allowed: Int) {
            let passed = c <= a + allowed
            comparisons.append(Comparison(metric: name, active: Double(a), candidate: Double(c), passed: passed))
            if !passed { reasons.append("\(name) \(c) > active \(a)" + (allowed > 0 ? " + \(allowed)" : "")) }
        }
        higherIsBetter("BLEU-4", active.bleu4, candidate.bleu4)
        higherIsBetter("ROUGE-L", active.rougeL, candidate.rougeL)
        for field in Set(active.accuracy.keys).union(candidate.accuracy.keys).sorted() {
            higherIsBetter("\(field) accuracy", active.accuracy[field] ?? 0, candidate.accuracy[field] ?? 0)
        }
        count("grounding violations", active.groundingViolations, candidate.groundingViolations, violationTolerance)
        count("false claims", active.falseClaims, candidate.falseClaims, falseClaimTolerance)
        return Verdict(promote: reasons.isEmpty, reasons: reasons, comparisons: comparisons)
    }
}
