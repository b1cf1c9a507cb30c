import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LoupeTestSupport
import NIOCore
import Sentiment
import Service
import Testing

/// Positive when the text has a positive word: the endpoint's mechanics, not a model's accuracy.
struct KeywordSentiment: SentimentClassifier {
    var version: String { "keywords-1" }
    var parameterCount: Int { 0 }
    func predict(_ texts: [String], batchSize: Int) throws -> [SentimentPrediction] {
        texts.map { text in
            let positive = ["lovely", "great", "fast", "perfect", "gorgeous"].contains { text.lowercased().contains($0) }
            return SentimentPrediction(prediction: positive ? "positive" : "negative", confidence: positive ? 0.9 : 0.8)
        }
    }
}

/// Reviews through the HTTP API against PostgreSQL: scored on arrival, summarised by product and artisan.
@Suite(.serialized) struct ReviewAPITests {
    /// Two products of the artisan ada and one of ben; returns their ids.
    func products(_ harness: Harness) async throws -> (ada1: Int, ada2: Int, ben: Int) {
        func product(_ external: String, _ artisan: String) async throws -> Int {
            try await harness.db.scalar("""
                INSERT INTO products (external_id, artisan_id, title, split, taxonomy_version)
                SELECT '\(external)', artisan_id, 'A piece', 'train', 1 FROM users WHERE name = '\(artisan)' RETURNING id
                """)
        }
        return (try await product("rv-1", "ada"), try await product("rv-2", "ada"), try await product("rv-3", "ben"))
    }

    @Test func reviewsAreScoredOnArrivalAndSummarised() async throws {
        try await withService(adjust: { $0.reviewScorer = SentimentServer(classifier: KeywordSentiment()) }) { client, harness in
            let (ada1, ada2, ben) = try await products(harness)
            func post(_ product: Int, _ body: String, as user: String = "mona") async throws -> TestResponse {
                try await client.execute(uri: "/v1/products/\(product)/reviews", method: .post, headers: headers(jsonHeaders, harness.bearer(user)),
                                         body: ByteBuffer(string: body))
            }
            let first = try await post(ada1, #"{"text": "Lovely colour but it tarnished within a week.", "rating": 3, "reviewed_at": "2026-10-05"}"#)
            #expect(first.status == .created, "\(String(buffer: first.body))")
            let view = try json(first)
            #expect(view["sentiment"] as? String == "positive" && view["model"] as? String == "keywords-1")
            let aspects = (view["aspects"] as? [[String: Any]] ?? []).map { "\($0["aspect"]!)=\($0["sentiment"]!)" }
            #expect(aspects == ["appearance=positive", "durability=negative"])
            // The rows: the review with its score and who posted it, one row per aspect.
            #expect(try await harness.db.scalar("""
                SELECT count(*)::bigint FROM reviews r JOIN users u ON u.id = r.created_by
                WHERE r.product_id = \(ada1) AND r.sentiment = 'positive' AND r.rating = 3 AND r.source = 'api' AND u.name = 'mona'
                  AND r.reviewed_at = '2026-10-05T00:00:00Z' AND r.model_version = 'keywords-1'
                """) == 1)
            #expect(try await harness.db.scalar("SELECT count(*)::bigint FROM review_aspects") == 2)
            #expect(try await post(ada1, #"{"text": "Arrived broken, the seller never replied.", "rating": 1, "reviewed_at": "2026-11-02T09:00:00Z"}"#).status == .created)
            #expect(try await post(ada2, #"{"text": "Perfect fit, great value."}"#, as: "root").status == .created)
            #expect(try await post(ben, #"{"text": "Gorgeous."}"#).status == .created)

            let summary = try await client.execute(uri: "/v1/products/\(ada1)/review-summary", method: .get, headers: harness.bearer("ada"))
            #expect(summary.status == .ok)
            let s = try json(summary)
            #expect(s["count"] as? Int == 2 && s["positive_share"] as? Double == 0.5 && s["average_rating"] as? Double == 2)
            let months = (s["months"] as? [[String: Any]] ?? []).map { "\($0["month"]!):\($0["count"]!):\($0["positive_share"]!)" }
            #expect(months == ["2026-10:1:1", "2026-11:1:0"])
            let aspectCounts = (s["aspects"] as? [[String: Any]] ?? []).map { "\($0["aspect"]!):\($0["mentions"]!):\($0["positive"]!)" }
            // "Arrived broken, the seller never replied": shipping, durability and service, all negative.
            #expect(Set(aspectCounts) == ["appearance:1:1", "durability:2:0", "service:1:0", "shipping:1:0"], "\(aspectCounts)")
            // The artisan's summary covers both of her products and not ben's.
            let adaID = try await harness.db.scalar("SELECT artisan_id FROM users WHERE name = 'ada'")
            let artisan = try json(try await client.execute(uri: "/v1/artisans/\(adaID)/review-summary", method: .get, headers: harness.bearer("ada")))
            #expect(artisan["count"] as? Int == 3)
            // Another artisan sees neither.
            #expect(try await client.execute(uri: "/v1/products/\(ada1)/review-summary", method: .get, headers: harness.bearer("ben")).status == .notFound)
            #expect(try await client.execute(uri: "/v1/artisans/\(adaID)/review-summary", method: .get, headers: harness.bearer("ben")).status == .forbidden)
            #expect(try await client.execute(uri: "/v1/artisans/\(adaID)/review-summary", method: .get, headers: harness.bearer("mona")).status == .ok)
            let none = try json(try await client.execute(uri: "/v1/products/\(ada2)/review-summary", method: .get, headers: harness.bearer("mona")))
            #expect(none["count"] as? Int == 1 && (none["aspects"] as? [[String: Any]])?.count == 2)
        }
    }

    @Test func badReviewsWriteNothing() async throws {
        try await withService(adjust: { $0.reviewScorer = SentimentServer(classifier: KeywordSentiment()) }) { client, harness in
            let (ada1, _, _) = try await products(harness)
            func post(_ uri: String, _ body: String, as user: String = "mona") async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers(jsonHeaders, harness.bearer(user)), body: ByteBuffer(string: body))
            }
            let uri = "/v1/products/\(ada1)/reviews"
            #expect(try await post(uri, #"{"text": "great"}"#, as: "ada").status == .forbidden)
            #expect(try await post("/v1/products/999999/reviews", #"{"text": "great"}"#).status == .notFound)
            for body in [#"{"text": "great", "rating": 7}"#, #"{"text": "   "}"#, #"{"text": "ok", "reviewed_at": "last week"}"#] {
                let r = try await post(uri, body)
                #expect(r.status == .unprocessableContent && errorCode(r) == "invalid_field", "\(body): \(String(buffer: r.body))")
            }
            #expect(try await post(uri, #"{"rating": 2}"#).status == .badRequest)
            #expect(try await post(uri, "{").status == .badRequest)
            #expect(try await harness.count("reviews") == 0)
        }
        try await withService { client, harness in
            let (ada1, _, _) = try await products(harness)
            let r = try await client.execute(uri: "/v1/products/\(ada1)/reviews", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                             body: ByteBuffer(string: #"{"text": "great"}"#))
            #expect(r.status == .serviceUnavailable && errorCode(r) == "model_unavailable")
        }
    }
}
