import Crypto
import Foundation

/// One rated sentence of the review corpora (Hutto & Gilbert 2014): the mean of ≥ 20 human ratings on
/// −4…+4.
public struct ReviewSentence: Sendable, Equatable {
    /// `1_3` (product: review 1, sentence 3) or `42` (movie).
    public let id: String
    public let rating: Double
    public let text: String

    /// 1 positive, 0 negative, nil inside the neutral band (|rating| < `ReviewCorpus.neutralBand`).
    public var label: Int? { abs(rating) < ReviewCorpus.neutralBand ? nil : (rating > 0 ? 1 : 0) }
}

public enum SentimentSplit: String, Sendable, CaseIterable, Codable { case train, validation, test }

/// The rated sentence corpora from vaderSentiment 3.3.2's source distribution (scripts/fetch-models.sh):
/// product — 3,708 Amazon review sentences (Hu & Liu 2004); movie — 10,605 sentences (Pang & Lee 2005);
/// and, as extra training data for the intermediate fine-tuning (`--also`), tweets — 4,200 — and news —
/// 5,190 New York Times editorial sentences.
public enum ReviewCorpus: String, Sendable, CaseIterable, Codable {
    case product, movie, tweets, news

    /// Sentences rated within ±0.5 of neutral are dropped: their sign is noise (as DATA.md's baselines).
    public static let neutralBand = 0.5
    public static let defaultDirectory = URL(fileURLWithPath: ".cache/data/reviews")

    var fileName: String {
        switch self {
        case .product: "amazonReviewSnippets_GroundTruth.txt"
        case .movie: "movieReviewSnippets_GroundTruth.txt"
        case .tweets: "tweets_GroundTruth.txt"
        case .news: "nytEditorialSnippets_GroundTruth.txt"
        }
    }

    /// Every sentence of the file, in file order (tab-separated id, mean rating, text; CRLF).
    public static func load(_ corpus: ReviewCorpus, directory: URL = defaultDirectory) throws -> [ReviewSentence] {
        let url = directory.appendingPathComponent(corpus.fileName)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SentimentDataError.missing(url.path)
        }
        var out: [ReviewSentence] = []
        // "\r\n" is one Character in Swift: split on newline Characters.
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.isEmpty { continue }
            let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, let rating = Double(parts[1]) else {
                throw SentimentDataError.malformed(file: url.lastPathComponent, line: n + 1)
            }
            out.append(ReviewSentence(id: String(parts[0]), rating: rating, text: String(parts[2])))
        }
        return out
    }

    /// The fixed test split: a tenth of the labelled sentences, chosen by SHA-256 of "corpus:id" (stable
    /// whatever the seed); the rest is shuffled under `seed` and cut 90/10 into train and validation.
    public static func splits(_ corpus: ReviewCorpus, sentences: [ReviewSentence], seed: UInt64 = 0) -> [SentimentSplit: [ReviewSentence]] {
        let labelled = sentences.filter { $0.label != nil }
        var test: [ReviewSentence] = [], rest: [ReviewSentence] = []
        for s in labelled {
            let digest = SHA256.hash(data: Data("\(corpus.rawValue):\(s.id)".utf8))
            if Array(digest)[0] % 10 == 0 { test.append(s) } else { rest.append(s) }
        }
        var rng = SeededGenerator(seed: seed)
        rest.shuffle(using: &rng)
        let validationCount = rest.count / 10
        return [.train: Array(rest.dropFirst(validationCount)), .validation: Array(rest.prefix(validationCount)), .test: test]
    }
}

public enum SentimentDataError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case malformed(file: String, line: Int)

    public var description: String {
        switch self {
        case .missing(let path): "\(path) is missing: run scripts/fetch-models.sh"
        case .malformed(let file, let line): "\(file) line \(line): expected id, rating and text separated by tabs"
        }
    }
}

/// SplitMix64: a small seeded generator, so splits are the same on every machine.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
