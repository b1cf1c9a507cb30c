import Foundation

/// A review's sentiment and the sentiment of each aspect it mentions.
public struct ReviewAnalysis: Sendable, Equatable {
    public struct Aspect: Sendable, Equatable {
        public let aspect: ReviewAspect
        public let sentiment: SentimentPrediction
        public let excerpt: String
    }

    public let sentiment: SentimentPrediction
    public let aspects: [Aspect]
}

/// Scores reviews with a sentiment classifier: the whole text, and each clause that mentions an aspect
/// (several clauses on one aspect: the mean of their positive probabilities, excerpts joined).
public final class ReviewAnalyzer {
    public let classifier: any SentimentClassifier

    public init(classifier: any SentimentClassifier) { self.classifier = classifier }

    public var version: String { classifier.version }

    public func analyze(_ texts: [String]) throws -> [ReviewAnalysis] {
        let overall = try classifier.predict(texts, batchSize: 32)
        let mentions = texts.map(AspectExtractor.mentions)
        let clauses = Array(Set(mentions.flatMap { $0.map(\.excerpt) })).sorted()
        let byClause = Dictionary(uniqueKeysWithValues: zip(clauses, try classifier.predict(clauses, batchSize: 32)))
        return zip(overall, mentions).map { sentiment, found in
            var aspects: [ReviewAnalysis.Aspect] = []
            for aspect in ReviewAspect.allCases {
                let hits = found.filter { $0.aspect == aspect }
                guard !hits.isEmpty else { continue }
                let positive = hits.map { Self.positiveProbability(byClause[$0.excerpt]!) }.reduce(0, +) / Double(hits.count)
                let prediction = positive > 0.5 ? SentimentPrediction(prediction: "positive", confidence: positive)
                                                : SentimentPrediction(prediction: "negative", confidence: 1 - positive)
                aspects.append(.init(aspect: aspect, sentiment: prediction, excerpt: hits.map(\.excerpt).joined(separator: " … ")))
            }
            return ReviewAnalysis(sentiment: sentiment, aspects: aspects)
        }
    }

    static func positiveProbability(_ p: SentimentPrediction) -> Double { p.prediction == "positive" ? p.confidence : 1 - p.confidence }
}
