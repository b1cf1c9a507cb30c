import Foundation
@testable import Sentiment
import Testing

@Suite struct NBSVMTests {
    /// On the product corpus's train and test splits, the Swift NB-SVM's scores equal those of the same
    /// recipe in Python — the tokenizers package's BERT pre-tokenisation for the words, numpy for the
    /// log-count ratios, scikit-learn's LinearSVC (liblinear, squared hinge, dual, C = 1, bias feature)
    /// for the SVM, then the same interpolation — and so do its predictions.
    @Test func matchesLiblinearOnTheProductCorpus() throws {
        let sentences = try ReviewCorpus.load(.product, directory: ReviewCorpusTests.directory)
        let splits = ReviewCorpus.splits(.product, sentences: sentences)
        let train = splits[.train]! + splits[.validation]!, test = splits[.test]!
        let model = NBSVM.train(train.map { ($0.text, $0.label!) })
        let scores = test.map { model.score($0.text) }
        let body: [String: Any] = ["train": train.map(\.text), "labels": train.map { $0.label! }, "test": test.map(\.text)]
        let reference = try JSONDecoder().decode([Double].self, from: try pyref("""
            import json, sys
            import numpy as np
            from scipy.sparse import csr_matrix
            from sklearn.svm import LinearSVC
            from tokenizers import Tokenizer
            t = Tokenizer.from_file(sys.argv[1])
            def grams(text):
                words = [w for w, _ in t.pre_tokenizer.pre_tokenize_str(t.normalizer.normalize_str(text))]
                return set(words) | {a + " " + b for a, b in zip(words, words[1:])}
            data = json.load(sys.stdin)
            vocab = {}
            rows = [[vocab.setdefault(g, len(vocab)) for g in sorted(grams(s))] for s in data["train"]]
            def matrix(rows):
                return csr_matrix((np.ones(sum(map(len, rows))), [j for r in rows for j in r],
                                   np.cumsum([0] + [len(r) for r in rows])), shape=(len(rows), len(vocab)))
            x, y = matrix(rows), np.array(data["labels"])
            p = 1 + np.asarray(x[y == 1].sum(0)).ravel(); q = 1 + np.asarray(x[y == 0].sum(0)).ravel()
            r = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(C=1, loss="squared_hinge", dual=True, tol=1e-6, max_iter=100000, intercept_scaling=1).fit(x.multiply(r).tocsr(), y)
            w = svm.coef_.ravel(); w = 0.75 * np.abs(w).mean() + 0.25 * w
            test = matrix([[vocab[g] for g in sorted(grams(s)) if g in vocab] for s in data["test"]])
            print(json.dumps((test.multiply(r) @ w + svm.intercept_[0]).tolist()))
            """, arguments: [miniLM.appendingPathComponent("tokenizer.json").path], input: try JSONSerialization.data(withJSONObject: body)))
        #expect(reference.count == scores.count)
        let worst = zip(scores, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 2e-3, "largest score difference \(worst)")
        let disagreements = zip(scores, reference).filter { ($0 > 0) != ($1 > 0) }.count
        #expect(disagreements == 0)
        let accuracy = Double(zip(scores, test).filter { ($0 > 0) == ($1.label == 1) }.count) / Double(test.count)
        #expect(accuracy > 0.7, "\(accuracy)")
    }

    @Test func predictionsCarryALabelAndAConfidence() {
        let model = NBSVM.train([("great ring", 1), ("lovely chain", 1), ("awful clasp", 0), ("broken ring", 0)])
        let out = model.predict(["a great lovely ring", "an awful broken clasp"])
        #expect(out.map(\.prediction) == ["positive", "negative"])
        #expect(out.allSatisfy { $0.confidence > 0.5 && $0.confidence < 1 })
    }
}
