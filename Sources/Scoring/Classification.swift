import Foundation

/// Accuracy, macro-F1 and expected calibration error for attribute predictions.
public enum Classification {
    public static func accuracy(predicted: [Int], truth: [Int]) -> Double {
        precondition(predicted.count == truth.count, "one prediction per label")
        guard !truth.isEmpty else { return 0 }
        return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    }

    /// The unweighted mean of per-class F1 over the classes that occur in the truth or the predictions
    /// (scikit-learn's `f1_score(average="macro")` with its default labels).
    public static func macroF1(predicted: [Int], truth: [Int]) -> Double {
        precondition(predicted.count == truth.count, "one prediction per label")
        let classes = Set(predicted).union(truth)
        guard !classes.isEmpty else { return 0 }
        var sum = 0.0
        for c in classes {
            var tp = 0, fp = 0, fn = 0
            for (p, t) in zip(predicted, truth) {
                if p == c && t == c { tp += 1 } else if p == c { fp += 1 } else if t == c { fn += 1 }
            }
            sum += tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + fn)
        }
        return sum / Double(classes.count)
    }

    /// Micro-averaged F1 over binary decisions (multi-label fields such as gemstones).
    public static func binaryF1(predicted: [Bool], truth: [Bool]) -> Double {
        var tp = 0, fp = 0, fn = 0
        for (p, t) in zip(predicted, truth) {
            if p && t { tp += 1 } else if p { fp += 1 } else if t { fn += 1 }
        }
        return tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + fn)
    }

    /// Expected calibration error with `bins` equal-width confidence bins: Σ (n_b / N)·|acc_b − conf_b|.
    public static func expectedCalibrationError(confidences: [Double], correct: [Bool], bins: Int = 15) -> Double {
        precondition(confidences.count == correct.count, "one outcome per confidence")
        guard !confidences.isEmpty else { return 0 }
        var count = [Int](repeating: 0, count: bins), hits = [Double](repeating: 0, count: bins)
        var confidence = [Double](repeating: 0, count: bins)
        for (c, ok) in zip(confidences, correct) {
            // Bins are (lo, hi]; a confidence of exactly 0 goes to the first.
            let b = min(bins - 1, max(0, Int((c * Double(bins)).rounded(.up)) - 1))
            count[b] += 1
            hits[b] += ok ? 1 : 0
            confidence[b] += c
        }
        var ece = 0.0
        for b in 0 ..< bins where count[b] > 0 {
            ece += Double(count[b]) / Double(confidences.count) * abs(hits[b] / Double(count[b]) - confidence[b] / Double(count[b]))
        }
        return ece
    }
}
