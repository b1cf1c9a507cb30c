import Foundation

/// ROUGE-L as Google's `rouge-score` computes it (default tokenizer, no stemming): lowercase, every run
/// of characters outside [a-z0-9] becomes a space, F-measure of the longest common subsequence; with
/// several references the one with the best F counts (`score_multi`). The corpus figure is the mean.
public enum RougeL {
    public struct Score: Sendable, Codable, Equatable {
        public let precision: Double, recall: Double, f: Double
    }

    public static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = [], current = ""
        for scalar in text.lowercased().unicodeScalars {
            let v = scalar.value
            if (97 ... 122).contains(v) || (48 ... 57).contains(v) {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                tokens.append(current)
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func score(reference: String, hypothesis: String) -> Score {
        score(reference: tokenize(reference), hypothesis: tokenize(hypothesis))
    }

    /// F of already tokenized texts (`tokenize`).
    public static func score(reference: [String], hypothesis: [String]) -> Score {
        guard !reference.isEmpty, !hypothesis.isEmpty else { return Score(precision: 0, recall: 0, f: 0) }
        let lcs = Double(lcsLength(reference, hypothesis))
        let p = lcs / Double(hypothesis.count), r = lcs / Double(reference.count)
        return Score(precision: p, recall: r, f: p + r > 0 ? 2 * p * r / (p + r) : 0)
    }

    /// The reference with the highest F (the first on ties, as numpy's argmax).
    public static func score(references: [String], hypothesis: String) -> Score {
        precondition(!references.isEmpty, "ROUGE-L needs a reference")
        let hyp = tokenize(hypothesis)
        var best: Score? = nil
        for reference in references {
            let s = score(reference: tokenize(reference), hypothesis: hyp)
            if best == nil || s.f > best!.f { best = s }
        }
        return best!
    }

    /// Mean F over the corpus.
    public static func corpusF(hypotheses: [String], references: [[String]]) -> Double {
        precondition(hypotheses.count == references.count, "one reference set per hypothesis")
        guard !hypotheses.isEmpty else { return 0 }
        return zip(hypotheses, references).reduce(0) { $0 + score(references: $1.1, hypothesis: $1.0).f } / Double(hypotheses.count)
    }

    static func lcsLength(_ a: [String], _ b: [String]) -> Int {
        var previous = [Int](repeating: 0, count: b.count + 1), current = previous
        for x in a {
            for j in 1 ... b.count { current[j] = x == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1]) }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
