import Foundation
@testable import Sentiment
import Testing

/// Positive when the text has a positive word: enough to check what the analyzer does with a classifier.
struct KeywordClassifier: SentimentClassifier {
    var version: String { "keywords" }
    var parameterCount: Int { 0 }
    func predict(_ texts: [String], batchSize: Int) throws -> [SentimentPrediction] {
        texts.map { text in
            let lower = text.lowercased()
            let positive = ["lovely", "great", "fast", "perfect", "gorgeous"].contains { lower.contains($0) }
            return SentimentPrediction(prediction: positive ? "positive" : "negative", confidence: 0.9)
        }
    }
}

@Suite struct ReviewAnalysisTests {
    @Test func clausesSplitAtSentencesAndContrasts() {
        #expect(AspectExtractor.clauses("Lovely colour but it tarnished in a week. Shipping was fast!") ==
            ["Lovely colour", "but it tarnished in a week.", "Shipping was fast!"])
        #expect(AspectExtractor.clauses("ok; however the clasp is weak") == ["ok;", "however the clasp is weak"])
        #expect(AspectExtractor.clauses("...") == [])
    }

    @Test func aspectsAreFoundWithTheirClause() {
        let mentions = AspectExtractor.mentions("Gorgeous design but the ring is too small and it turned green. Seller refunded me quickly.")
        #expect(mentions.map(\.aspect) == [.appearance, .sizeFit, .durability, .service])
        #expect(mentions[1].excerpt == "but the ring is too small and it turned green.")
        #expect(AspectExtractor.mentions("I bought it for my sister.").isEmpty)
        #expect(AspectExtractor.mentions("Worth every penny").map(\.aspect) == [.priceValue])
        #expect(AspectExtractor.mentions("It arrived late, the packaging was crushed").map(\.aspect) == [.shipping])
    }

    /// The review gets one sentiment; each aspect gets the sentiment of its own clause.
    @Test func analyzerScoresTheReviewAndEachAspect() throws {
        let analyzer = ReviewAnalyzer(classifier: KeywordClassifier())
        let result = try analyzer.analyze(["Lovely colour but it tarnished within a week. Shipping was fast.", "meh"])
        #expect(result[0].sentiment.prediction == "positive")
        #expect(result[0].aspects.map(\.aspect) == [.appearance, .shipping, .durability])
        #expect(result[0].aspects.map(\.sentiment.prediction) == ["positive", "positive", "negative"])
        #expect(result[0].aspects.last?.excerpt == "but it tarnished within a week.")
        #expect(result[1].aspects.isEmpty && result[1].sentiment.prediction == "negative")
    }

    @Test func reviewFilesKeepGoodRowsAndReportBadOnes() throws {
        let csv = "\u{FEFF}product,rating,text,time\r\n"
            + "fx-1,5,\"Lovely, really \"\"lovely\"\" ring\",2026-10-03\r\n"
            + "fx-2,,\"Two\nlines\",2026-11-01T10:00:00Z\r\n"
            + "fx-3,9,too many stars,\r\n"
            + "fx-4,3,,2026-10-01\r\n"
            + "fx-5,4,bad time,yesterday\r\n"
            + "fx-6,4,short row\r\n"
            + "\r\n"
            + ",2,no product,\r\n"
        let file = try ReviewFile(text: csv, tabSeparated: false)
        #expect(file.rows.map(\.product) == ["fx-1", "fx-2"])
        #expect(file.rows[0].text == "Lovely, really \"lovely\" ring" && file.rows[0].rating == 5)
        #expect(file.rows[1].text == "Two\nlines" && file.rows[1].rating == nil && file.rows[1].time != nil)
        #expect(file.problems.map(\.line) == [5, 6, 7, 8, 10])
        #expect(file.problems[0].reason.contains("not 1–5") && file.problems[3].reason.contains("3 fields"))
        let tsv = try ReviewFile(text: "text\tproduct\nGreat \"quoted\" stuff\tfx-9\n", tabSeparated: true)
        #expect(tsv.rows == [ReviewFile.Row(line: 2, product: "fx-9", rating: nil, text: "Great \"quoted\" stuff", time: nil)])
        #expect(throws: ReviewFileError.missingColumns(found: ["id", "body"])) { try ReviewFile(text: "id,body\n1,x\n", tabSeparated: false) }
        #expect(throws: ReviewFileError.noHeader) { try ReviewFile(text: "", tabSeparated: false) }
    }
}
