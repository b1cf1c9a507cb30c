import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Sentiment
import Store

/// Review texts → sentiment and aspects. The service depends on this protocol; tests may substitute one.
public protocol ReviewScorer: Sendable {
    var version: String { get }
    func score(_ texts: [String]) async throws -> [ReviewAnalysis]
}

/// A sentiment model served from one serial queue (libtorch modules are not shared between threads).
public final class SentimentServer: ReviewScorer, @unchecked Sendable {
    private let queue = DispatchQueue(label: "loupe.sentiment")
    private let analyzer: ReviewAnalyzer  // used on `queue` only
    public let version: String

    public init(contentsOf url: URL) throws {
        analyzer = ReviewAnalyzer(classifier: try SentimentModels.load(url))
        version = analyzer.version
    }

    public init(classifier: any SentimentClassifier) {
        analyzer = ReviewAnalyzer(classifier: classifier)
        version = analyzer.version
    }

    public func score(_ texts: [String]) async throws -> [ReviewAnalysis] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in continuation.resume(with: Result { try analyzer.analyze(texts) }) }
        }
    }
}

extension NewReview {
    /// A review as stored, from its analysis.
    public init(productID: Int64, rating: Int?, text: String, reviewedAt: Date?, analysis: ReviewAnalysis, modelVersion: String, source: String,
                createdBy: Int64?) {
        self.init(productID: productID, rating: rating, text: text, reviewedAt: reviewedAt, sentiment: analysis.sentiment.prediction,
                  confidence: analysis.sentiment.confidence, modelVersion: modelVersion, source: source, createdBy: createdBy,
                  aspects: analysis.aspects.map {
                      .init(aspect: $0.aspect.rawValue, sentiment: $0.sentiment.prediction, confidence: $0.sentiment.confidence, excerpt: $0.excerpt)
                  })
    }
}

/// Reviews: `POST /v1/products/{id}/reviews` (moderators and admins — the marketplace's integration posts
/// what customers wrote; sentiment is computed here, when the review arrives), and the summaries
/// `GET /v1/products/{id}/review-summary` and `GET /v1/artisans/{id}/review-summary` (an artisan sees
/// their own products only; moderators and admins see all).
struct ReviewController: Sendable {
    let scorer: (any ReviewScorer)?
    let reviews: ReviewRepository

    struct CreateRequest: Decodable {
        var text: String
        var rating: Int?
        var reviewedAt: Date?

        enum CodingKeys: String, CodingKey { case text, rating, reviewedAt = "reviewed_at" }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            text = try c.decode(String.self, forKey: .text)
            rating = try c.decodeIfPresent(Int.self, forKey: .rating)
            if let time = try c.decodeIfPresent(String.self, forKey: .reviewedAt) {
                guard let date = ISO8601DateFormatter().date(from: time) ?? AdminController.day.date(from: time) else {
                    throw APIError.unprocessable("invalid_field", "reviewed_at must be a date (2026-11-01) or an ISO 8601 time")
                }
                reviewedAt = date
            }
        }
    }

    func addRoutes(to router: Router<LoupeRequestContext>) {
        router.post("v1/products/:id/reviews", use: create)
        router.get("v1/products/:id/review-summary", use: productSummary)
        router.get("v1/artisans/:id/review-summary", use: artisanSummary)
    }

    @Sendable func create(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let productID = try id(context)
        let body = try await DraftController.json(CreateRequest.self, request, context: context)
        let text = body.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= 10_000 else { throw APIError.unprocessable("invalid_field", "text must be 1–10,000 characters") }
        if let rating = body.rating, !(1 ... 5).contains(rating) { throw APIError.unprocessable("invalid_field", "rating must be 1–5") }
        guard try await reviews.productArtisan(productID, logger: context.logger) != nil else { throw APIError.notFound("no product \(productID)") }
        guard let scorer else {
            throw APIError(.serviceUnavailable, "model_unavailable", "no sentiment model is configured (loupe serve --sentiment-model FILE)")
        }
        let analysis = try await scorer.score([text])[0]
        let review = NewReview(productID: productID, rating: body.rating, text: text, reviewedAt: body.reviewedAt, analysis: analysis,
                               modelVersion: scorer.version, source: "api", createdBy: user.id)
        let id = try await reviews.insert([review], logger: context.logger)[0]
        let view = ReviewView(id: id, productID: productID, rating: body.rating, sentiment: analysis.sentiment.prediction,
                              confidence: analysis.sentiment.confidence, model: scorer.version,
                              aspects: analysis.aspects.map { .init(aspect: $0.aspect.rawValue, sentiment: $0.sentiment.prediction,
                                                                    confidence: $0.sentiment.confidence, excerpt: $0.excerpt) })
        return try view.response(from: request, context: context, status: .created, location: nil)
    }

    @Sendable func productSummary(_ request: Request, context: LoupeRequestContext) async throws -> ReviewSummary {
        let user = try context.requireUser()
        let productID = try id(context)
        guard let artisan = try await reviews.productArtisan(productID, logger: context.logger) else { throw APIError.notFound("no product \(productID)") }
        if user.role == .artisan, user.artisanID != artisan { throw APIError.notFound("no product \(productID)") }
        return try await reviews.summary(.product(productID), logger: context.logger)
    }

    @Sendable func artisanSummary(_ request: Request, context: LoupeRequestContext) async throws -> ReviewSummary {
        let user = try context.requireUser()
        let artisanID = try id(context)
        if user.role == .artisan, user.artisanID != artisanID { throw APIError.forbidden("artisans see their own review summary only") }
        guard try await reviews.artisanExists(artisanID, logger: context.logger) else { throw APIError.notFound("no artisan \(artisanID)") }
        return try await reviews.summary(.artisan(artisanID), logger: context.logger)
    }

    func id(_ context: LoupeRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.notFound("no such resource") }
        return id
    }
}

extension ReviewSummary: ResponseEncodable {}

struct ReviewView: Codable, Sendable, ResponseEncodable {
    struct Aspect: Codable, Sendable { let aspect: String, sentiment: String, confidence: Double, excerpt: String }
    let id: Int64
    let productID: Int64
    let rating: Int?
    let sentiment: String
    let confidence: Double
    let model: String
    let aspects: [Aspect]

    enum CodingKeys: String, CodingKey { case id, productID = "product_id", rating, sentiment, confidence, model, aspects }
}
