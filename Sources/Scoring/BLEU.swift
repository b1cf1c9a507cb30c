import Foundation

/// Corpus BLEU as sacrebleu 2.x computes it by default: 13a tokenisation, n-gram counts clipped by the
/// largest count in any reference, closest reference length (ties to the shorter) for the brevity
/// penalty, and "exp" smoothing (mteval-v13a's NIST smoothing) for orders with no match.
/// Scores are in [0, 1] (sacrebleu prints them ×100).
public struct BLEU: Sendable {
    public struct Score: Sendable, Codable, Equatable {
        /// BLEU-1 … BLEU-maxOrder: the geometric mean of precisions up to each order, with the brevity penalty.
        public let cumulative: [Double]
        public let precisions: [Double]
        public let brevityPenalty: Double
        public let hypothesisLength: Int
        public let referenceLength: Int
        public var bleu4: Double { cumulative[min(3, cumulative.count - 1)] }
    }

    public let maxOrder: Int
    public init(maxOrder: Int = 4) {
        precondition(maxOrder >= 1, "BLEU needs at least unigrams")
        self.maxOrder = maxOrder
    }

    /// `hypotheses[i]` is scored against every string in `references[i]`.
    public func corpusScore(hypotheses: [String], references: [[String]]) -> Score {
        precondition(hypotheses.count == references.count, "one reference set per hypothesis")
        var correct = [Int](repeating: 0, count: maxOrder), total = [Int](repeating: 0, count: maxOrder)
        var sysLength = 0, refLength = 0
        for (hypothesis, refs) in zip(hypotheses, references) {
            precondition(!refs.isEmpty, "every hypothesis needs a reference")
            let hyp = Tokenizer13a.tokenize(hypothesis)
            let refTokens = refs.map(Tokenizer13a.tokenize)
            sysLength += hyp.count
            refLength += Self.closestLength(hyp.count, refTokens.map(\.count))
            var maxRef: [NGram: Int] = [:]
            for ref in refTokens {
                for (gram, count) in NGram.counts(ref, upTo: maxOrder) where count > maxRef[gram, default: 0] {
                    maxRef[gram] = count
                }
            }
            for (gram, count) in NGram.counts(hyp, upTo: maxOrder) {
                correct[gram.order - 1] += min(count, maxRef[gram, default: 0])
            }
            for n in 1 ... maxOrder { total[n - 1] += max(0, hyp.count - n + 1) }
        }
        return Self.score(correct: correct, total: total, sysLength: sysLength, refLength: refLength)
    }

    static func closestLength(_ hypothesis: Int, _ references: [Int]) -> Int {
        var best = -1, bestDiff = -1
        for length in references {
            let diff = abs(hypothesis - length)
            if bestDiff == -1 || diff < bestDiff || (diff == bestDiff && length < best) { (best, bestDiff) = (length, diff) }
        }
        return best
    }

    static func score(correct: [Int], total: [Int], sysLength: Int, refLength: Int) -> Score {
        let order = correct.count
        var bp = 1.0
        if sysLength < refLength { bp = sysLength > 0 ? Foundation.exp(1 - Double(refLength) / Double(sysLength)) : 0 }
        var precisions = [Double](repeating: 0, count: order)
        guard correct.contains(where: { $0 > 0 }) else {
            return Score(cumulative: .init(repeating: 0, count: order), precisions: precisions, brevityPenalty: bp,
                         hypothesisLength: sysLength, referenceLength: refLength)
        }
        var smooth = 1.0
        for n in 0 ..< order where total[n] > 0 {
            if correct[n] == 0 {
                smooth *= 2
                precisions[n] = 1 / (smooth * Double(total[n]))
            } else {
                precisions[n] = Double(correct[n]) / Double(total[n])
            }
        }
        // sacrebleu computes BLEU-k with max_ngram_order = k: the first k precisions, equally weighted.
        var cumulative: [Double] = []
        var logSum = 0.0
        for n in 0 ..< order {
            logSum += precisions[n] > 0 ? Foundation.log(precisions[n]) : -.infinity
            let anyMatch = correct[0 ... n].contains { $0 > 0 }
            cumulative.append(anyMatch && logSum.isFinite ? bp * Foundation.exp(logSum / Double(n + 1)) : 0)
        }
        return Score(cumulative: cumulative, precisions: precisions, brevityPenalty: bp,
                     hypothesisLength: sysLength, referenceLength: refLength)
    }
}

/// An n-gram of tokens, with its order, as a dictionary key.
struct NGram: Hashable {
    let tokens: ArraySlice<String>
    var order: Int { tokens.count }

    static func counts(_ tokens: [String], upTo maxOrder: Int) -> [NGram: Int] {
        var counts: [NGram: Int] = [:]
        for n in 1 ... maxOrder where tokens.count >= n {
            for start in 0 ... tokens.count - n { counts[NGram(tokens: tokens[start ..< start + n]), default: 0] += 1 }
        }
        return counts
    }

    static func == (a: NGram, b: NGram) -> Bool { a.tokens.elementsEqual(b.tokens) }
    func hash(into hasher: inout Hasher) { for token in tokens { hasher.combine(token) } }
}

/// mteval-v13a tokenisation as sacrebleu implements it (`tokenizer_13a.py` + `tokenizer_re.py`).
public enum Tokenizer13a {
    public static func tokenize(_ line: String) -> [String] {
        var text = line.replacingOccurrences(of: "<skipped>", with: "")
            .replacingOccurrences(of: "-\n", with: "").replacingOccurrences(of: "\n", with: " ")
        if text.contains("&") {
            text = text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        }
        let chars = Array((" " + text + " ").unicodeScalars)
        // 1. Every ASCII symbol in {-~, [-`, space-&, (-+, :-@ and / gets spaces around it.
        var step1: [Unicode.Scalar] = []
        step1.reserveCapacity(chars.count * 2)
        for c in chars {
            if isSymbol(c) { step1 += [" ", c, " "] } else { step1.append(c) }
        }
        // 2. `([^0-9])([\.,])` → `\1 \2 `, 3. `([\.,])([^0-9])` → ` \1 \2`, 4. `([0-9])(-)` → `\1 \2 `:
        // each a left-to-right, non-overlapping regex substitution, as re.sub does.
        let step2 = substitute(step1) { a, b in !isDigit(a) && (b == "." || b == ",") } replace: { a, b in [a, " ", b, " "] }
        let step3 = substitute(step2) { a, b in (a == "." || a == ",") && !isDigit(b) } replace: { a, b in [" ", a, " ", b] }
        let step4 = substitute(step3) { a, b in isDigit(a) && b == "-" } replace: { a, b in [a, " ", b, " "] }
        return String(String.UnicodeScalarView(step4)).split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }

    static func isSymbol(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (0x7B ... 0x7E).contains(v) || (0x5B ... 0x60).contains(v) || (0x20 ... 0x26).contains(v)
            || (0x28 ... 0x2B).contains(v) || (0x3A ... 0x40).contains(v) || v == 0x2F
    }

    /// A two-character pattern applied like `re.sub`: scan left to right, and after a match continue
    /// after both matched characters.
    static func substitute(_ s: [Unicode.Scalar], matches: (Unicode.Scalar, Unicode.Scalar) -> Bool,
                           replace: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count + s.count / 4)
        var i = 0
        while i < s.count {
            if i + 1 < s.count, matches(s[i], s[i + 1]) {
                out += replace(s[i], s[i + 1])
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
