import Foundation
import Logging
import PostgresNIO

/// A scored review ready to be written.
public struct NewReview: Sendable {
    public struct Aspect: Sendable {
        public let aspect: String, sentiment: String, confidence: Double, excerpt: String
        public init(aspect: String, sentiment: String, confidence: Double, excerpt: String) {
            (self.aspect, self.sentiment, self.confidence, self.excerpt) = (aspect, sentiment, confidence, excerpt)
        }
    }

    public let productID: Int64
    public let rating: Int?
    public let text: String
    public let reviewedAt: Date?
    public let sentiment: String
    public let confidence: Double
    public let modelVersion: String
    public let source: String
    public let createdBy: Int64?
    public let aspects: [Aspect]

    public init(productID: Int64, rating: Int?, text: String, reviewedAt: Date?, sentiment: String, confidence: Double, modelVersion: String,
                source: String, createdBy: Int64?, aspects: [Aspect]) {
        (self.productID, self.rating, self.text, self.reviewedAt) = (productID, rating, text, reviewedAt)
        (self.sentiment, self.confidence, self.modelVersion, self.source, self.createdBy, self.aspects) =
            (sentiment, confidence, modelVersion, source, createdBy, aspects)
    }
}

/// What the summary endpoints answer: counts, the positive share, a monthly trend and the aspects.
public struct ReviewSummary: Codable, Sendable, Equatable {
    public struct Month: Codable, Sendable, Equatable {
        public let month: String  // 2026-11
        public let count: Int
        public let positiveShare: Double
        public let averageRating: Double?
    }

    public struct Aspect: Codable, Sendable, Equatable {
        public let aspect: String
        public let mentions: Int
        public let positive: Int
        public let negative: Int
        public let positiveShare: Double
    }

    public let count: Int
    public let positiveShare: Double?
    public let averageRating: Double?
    public let months: [Month]
    public let aspects: [Aspect]

    enum CodingKeys: String, CodingKey {
        case count, months, aspects
        case positiveShare = "positive_share", averageRating = "average_rating"
    }
}

extension ReviewSummary.Month {
    enum CodingKeys: String, CodingKey { case month, count, positiveShare = "positive_share", averageRating = "average_rating" }
}

extension ReviewSummary.Aspect {
    enum CodingKeys: String, CodingKey { case aspect, mentions, positive, negative, positiveShare = "positive_share" }
}

public struct ReviewRepository: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// The product's artisan, or nil when there is no such product.
    public func productArtisan(_ productID: Int64, logger: Logger) async throws -> Int64? {
        let rows = try await client.rows("SELECT artisan_id FROM products WHERE id = \(productID)", logger: logger)
        for id in try rows.decode(Int64.self) { return id }
        return nil
    }

    /// Product ids by external id (for imports).
    public func productIDs(externalIDs: [String], logger: Logger) async throws -> [String: Int64] {
        let rows = try await client.rows("SELECT external_id, id FROM products WHERE external_id = ANY(\(externalIDs))", logger: logger)
        var out: [String: Int64] = [:]
        for (external, id) in try rows.decode((String, Int64).self) { out[external] = id }
        return out
    }

    public func artisanExists(_ id: Int64, logger: Logger) async throws -> Bool {
        let rows = try await client.rows("SELECT 1 FROM artisans WHERE id = \(id)", logger: logger)
        for _ in try rows.decode(Int.self) { return true }
        return false
    }

    /// Writes the reviews and their aspects in one transaction; returns their ids in order.
    public func insert(_ reviews: [NewReview], logger: Logger) async throws -> [Int64] {
        guard !reviews.isEmpty else { return [] }
        return try await client.transaction(logger: logger) { tx in
            var ids: [Int64] = []
            for review in reviews {
                let rows = try await tx.query("""
                    INSERT INTO reviews (product_id, rating, text, reviewed_at, sentiment, confidence, model_version, source, created_by)
                    VALUES (\(review.productID), \(review.rating), \(review.text), COALESCE(\(review.reviewedAt), now()), \(review.sentiment),
                            \(review.confidence), \(review.modelVersion), \(review.source), \(review.createdBy))
                    RETURNING id
                    """, logger: logger)
                var id: Int64 = 0
                for try await value in rows.decode(Int64.self) { id = value }
                ids.append(id)
                if !review.aspects.isEmpty {
                    try await tx.query("""
                        INSERT INTO review_aspects (review_id, aspect, sentiment, confidence, excerpt)
                        SELECT \(id), a, s, c, e FROM unnest(\(review.aspects.map(\.aspect))::text[], \(review.aspects.map(\.sentiment))::text[],
                                                          \(review.aspects.map(\.confidence))::float8[], \(review.aspects.map(\.excerpt))::text[]) AS t(a, s, c, e)
                        """, logger: logger)
                }
            }
            return ids
        }
    }

    public enum Scope: Sendable { case product(Int64), artisan(Int64) }

    public func summary(_ scope: Scope, logger: Logger) async throws -> ReviewSummary {
        let (filter, id): (String, Int64) = switch scope {
        case .product(let id): ("r.product_id = $1", id)
        case .artisan(let id): ("p.artisan_id = $1", id)
        }
        func query(_ sql: String) -> PostgresQuery {
            var bindings = PostgresBindings()
            bindings.append(id)
            return PostgresQuery(unsafeSQL: sql, binds: bindings)
        }
        var months: [ReviewSummary.Month] = []
        let monthRows = try await client.rows(query("""
            SELECT to_char(date_trunc('month', r.reviewed_at AT TIME ZONE 'UTC'), 'YYYY-MM'), count(*)::bigint,
                   avg((r.sentiment = 'positive')::int)::float8, avg(r.rating)::float8
            FROM reviews r JOIN products p ON p.id = r.product_id WHERE \(filter) GROUP BY 1 ORDER BY 1
            """), logger: logger)
        for (month, count, share, rating) in try monthRows.decode((String, Int, Double, Double?).self) {
            months.append(.init(month: month, count: count, positiveShare: share, averageRating: rating))
        }
        var aspects: [ReviewSummary.Aspect] = []
        let aspectRows = try await client.rows(query("""
            SELECT a.aspect, count(*)::bigint, count(*) FILTER (WHERE a.sentiment = 'positive')::bigint
            FROM review_aspects a JOIN reviews r ON r.id = a.review_id JOIN products p ON p.id = r.product_id
            WHERE \(filter) GROUP BY a.aspect ORDER BY count(*) DESC, a.aspect
            """), logger: logger)
        for (aspect, mentions, positive) in try aspectRows.decode((String, Int, Int).self) {
            aspects.append(.init(aspect: aspect, mentions: mentions, positive: positive, negative: mentions - positive,
                                 positiveShare: Double(positive) / Double(mentions)))
        }
        let total = months.reduce(0) { $0 + $1.count }
        let positive = months.reduce(0.0) { $0 + $1.positiveShare * Double($1.count) }
        var ratingSum = 0.0, ratingCount = 0
        let ratingRows = try await client.rows(query("""
            SELECT coalesce(sum(r.rating), 0)::float8, count(r.rating)::bigint FROM reviews r JOIN products p ON p.id = r.product_id WHERE \(filter)
            """), logger: logger)
        for (sum, count) in try ratingRows.decode((Double, Int).self) { (ratingSum, ratingCount) = (sum, count) }
        return ReviewSummary(count: total, positiveShare: total > 0 ? positive / Double(total) : nil,
                             averageRating: ratingCount > 0 ? ratingSum / Double(ratingCount) : nil, months: months, aspects: aspects)
    }
}
