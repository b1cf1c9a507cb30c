import Foundation
@testable import Sentiment
import Testing

@Suite struct ReviewCorpusTests {
    static let directory = repositoryRoot.appendingPathComponent(".cache/data/reviews")

    /// The files as DATA.md describes them, and the labelled counts of its baselines (|rating| ≥ 0.5).
    @Test(arguments: [(ReviewCorpus.product, 3708, 2985), (.movie, 10605, 10072), (.tweets, 4200, 3432), (.news, 5190, 2970)])
    func countsAndLabels(corpus: ReviewCorpus, total: Int, labelled: Int) throws {
        let sentences = try ReviewCorpus.load(corpus, directory: Self.directory)
        #expect(sentences.count == total)
        #expect(sentences.filter { $0.label != nil }.count == labelled)
        #expect(sentences.allSatisfy { ($0.label == 1) == ($0.rating >= 0.5) && ($0.label == 0) == ($0.rating <= -0.5) })
        switch corpus {
        case .movie: #expect(sentences[2] == ReviewSentence(id: "3", rating: -0.6, text: "Effective but too tepid biopic"))
        case .product: #expect(sentences[0].id == "1_1" && sentences[0].rating == -0.9 && sentences[0].text.hasPrefix("troubleshooting ad-2500"))
        case .tweets: #expect(sentences[1] == ReviewSentence(id: "2", rating: 1.443298969, text: "Yay. Another good phone interview."))
        case .news: #expect(sentences[1] == ReviewSentence(id: "1_2", rating: 0.15, text: "Events include sprinting, broad jumping, yule log rolling, wreath tossing and a toy sack relay."))
        }
    }

    /// Test split fixed by id hash (the same under any seed), train/validation 90/10 and reproducible.
    @Test func splitsAreFixedDisjointAndSeeded() throws {
        let sentences = try ReviewCorpus.load(.movie, directory: Self.directory)
        let a = ReviewCorpus.splits(.movie, sentences: sentences, seed: 0), b = ReviewCorpus.splits(.movie, sentences: sentences, seed: 0)
        let c = ReviewCorpus.splits(.movie, sentences: sentences, seed: 1)
        #expect(a[.train] == b[.train] && a[.validation] == b[.validation])
        #expect(a[.test] == c[.test] && a[.validation] != c[.validation])
        let ids = SentimentSplit.allCases.map { Set(a[$0]!.map(\.id)) }
        #expect(ids[0].isDisjoint(with: ids[1]) && ids[0].isDisjoint(with: ids[2]) && ids[1].isDisjoint(with: ids[2]))
        #expect(ids.map(\.count).reduce(0, +) == 10072)
        let test = Double(ids[2].count) / 10072, validation = Double(ids[1].count) / Double(ids[0].count + ids[1].count)
        #expect(abs(test - 0.1) < 0.015 && abs(validation - 0.1) < 0.005, "test \(test), validation \(validation)")
    }

    @Test func malformedFilesAreClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-reviews-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("1\t2.0\tgood\r\n2\tbad rating\ttext\r\n".utf8).write(to: dir.appendingPathComponent("movieReviewSnippets_GroundTruth.txt"))
        #expect(throws: SentimentDataError.malformed(file: "movieReviewSnippets_GroundTruth.txt", line: 2)) { try ReviewCorpus.load(.movie, directory: dir) }
        #expect(throws: SentimentDataError.self) { try ReviewCorpus.load(.product, directory: dir) }
    }
}
