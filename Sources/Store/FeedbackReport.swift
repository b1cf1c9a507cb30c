import Foundation
import Logging
import PostgresNIO

/// What moderators and artisans changed, summed up for the team deciding what to fix next.
public struct FeedbackReport: Codable, Sendable, Equatable {
    /// Per field: of the decided (approved) drafts, how many a moderator edited; of the drafts with
    /// artisan feedback, how many the artisan corrected to a value other than the generated one.
    public struct FieldRate: Codable, Sendable, Equatable {
        public let field: String
        public let approved: Int
        public let moderatorEdits: Int
        public let moderatorEditRate: Double
        public let withFeedback: Int
        public let artisanCorrections: Int
        public let artisanCorrectionRate: Double

        enum CodingKeys: String, CodingKey {
            case field, approved
            case moderatorEdits = "moderator_edits", moderatorEditRate = "moderator_edit_rate", withFeedback = "with_feedback"
            case artisanCorrections = "artisan_corrections", artisanCorrectionRate = "artisan_correction_rate"
        }
    }

    /// One attribute mistake: the model's value and what a person changed it to, how often.
    public struct Correction: Codable, Sendable, Equatable {
        public let field: String
        public let generated: String
        public let corrected: String
        public let count: Int
        /// "moderator" or "artisan"
        public let by: String
    }

    public struct Ratings: Codable, Sendable, Equatable {
        public let modelVersion: String
        public let count: Int
        public let mean: Double
        /// Count per rating "1"…"5".
        public let distribution: [String: Int]

        enum CodingKeys: String, CodingKey { case modelVersion = "model_version", count, mean, distribution }
    }

    public let since: Date?
    public let drafts: [String: Int]
    public let fields: [FieldRate]
    public let mostCorrected: [Correction]
    public let ratings: [Ratings]

    enum CodingKeys: String, CodingKey { case since, drafts, fields, mostCorrected = "most_corrected", ratings }
}

public struct FeedbackReportRepository: Sendable {
    public let client: PostgresClient
    public init(client: PostgresClient) { self.client = client }

    static let attributeFields = ["category", "metal", "gemstones", "style", "finish"]
    static let allFields = ["title", "description"] + attributeFields

    public func report(since: Date? = nil, top: Int = 10, logger: Logger) async throws -> FeedbackReport {
        let from = since ?? Date(timeIntervalSince1970: 0)
        var drafts: [String: Int] = [:]
        for (status, n) in try await client.rows("""
            SELECT status, count(*)::int FROM drafts WHERE created_at >= \(from) GROUP BY status
            """, logger: logger).decode((String, Int).self) { drafts[status] = n }

        // Moderator edits: approved drafts whose final (latest edit) value differs from the generated one.
        var edited: [String: Int] = [:], approved = 0
        for (field, n) in try await client.rows("""
            WITH latest AS (
                SELECT DISTINCT ON (e.draft_id, e.field) e.draft_id, e.field, e.value
                FROM draft_edits e JOIN drafts d ON d.id = e.draft_id
                WHERE d.status = 'approved' AND d.created_at >= \(from) ORDER BY e.draft_id, e.field, e.id DESC)
            SELECT l.field, count(*)::int FROM latest l JOIN draft_fields f ON f.draft_id = l.draft_id AND f.field = l.field
            WHERE l.value <> f.generated_value GROUP BY l.field
            """, logger: logger).decode((String, Int).self) { edited[field] = n }
        for n in try await client.rows("""
            SELECT count(*)::int FROM drafts WHERE status = 'approved' AND created_at >= \(from)
            """, logger: logger).decode(Int.self) { approved = n }

        // Artisan corrections: feedback whose correction differs from the generated value.
        var corrected: [String: Int] = [:], withFeedback = 0
        for (field, n) in try await client.rows("""
            SELECT c.key, count(*)::int FROM draft_feedback fb JOIN drafts d ON d.id = fb.draft_id CROSS JOIN LATERAL jsonb_each(fb.corrections) AS c(key, value)
            JOIN draft_fields f ON f.draft_id = fb.draft_id AND f.field = c.key
            WHERE d.created_at >= \(from) AND c.value <> f.generated_value GROUP BY c.key
            """, logger: logger).decode((String, Int).self) { corrected[field] = n }
        for n in try await client.rows("""
            SELECT count(DISTINCT fb.draft_id)::int FROM draft_feedback fb JOIN drafts d ON d.id = fb.draft_id WHERE d.created_at >= \(from)
            """, logger: logger).decode(Int.self) { withFeedback = n }
        let fields = Self.allFields.map { field in
            FeedbackReport.FieldRate(field: field, approved: approved, moderatorEdits: edited[field] ?? 0,
                                     moderatorEditRate: approved == 0 ? 0 : Double(edited[field] ?? 0) / Double(approved),
                                     withFeedback: withFeedback, artisanCorrections: corrected[field] ?? 0,
                                     artisanCorrectionRate: withFeedback == 0 ? 0 : Double(corrected[field] ?? 0) / Double(withFeedback))
        }

        // The most frequent attribute mistakes, generated → corrected (gemstone sets as comma lists).
        var mistakes: [FeedbackReport.Correction] = []
        for (field, generated, final, by, n) in try await client.rows("""
            WITH latest AS (
                SELECT DISTINCT ON (e.draft_id, e.field) e.draft_id, e.field, e.value, 'moderator' AS by
                FROM draft_edits e JOIN drafts d ON d.id = e.draft_id
                WHERE d.status = 'approved' AND d.created_at >= \(from) ORDER BY e.draft_id, e.field, e.id DESC),
            artisan AS (
                SELECT fb.draft_id, c.key AS field, c.value, 'artisan' AS by
                FROM draft_feedback fb JOIN drafts d ON d.id = fb.draft_id CROSS JOIN LATERAL jsonb_each(fb.corrections) AS c(key, value)
                WHERE d.created_at >= \(from)),
            changes AS (SELECT * FROM latest UNION ALL SELECT * FROM artisan)
            SELECT c.field, \(unescaped: Self.display("f.generated_value")), \(unescaped: Self.display("c.value")), c.by, count(*)::int
            FROM changes c JOIN draft_fields f ON f.draft_id = c.draft_id AND f.field = c.field
            WHERE c.field = ANY(\(Self.attributeFields)) AND c.value <> f.generated_value
            GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT \(top)
            """, logger: logger).decode((String, String, String, String, Int).self) {
            mistakes.append(.init(field: field, generated: generated, corrected: final, count: n, by: by))
        }

        var ratings: [String: (count: Int, sum: Int, distribution: [String: Int])] = [:]
        for (version, rating, n) in try await client.rows("""
            SELECT fb.model_version, fb.rating::int, count(*)::int FROM draft_feedback fb JOIN drafts d ON d.id = fb.draft_id
            WHERE d.created_at >= \(from) GROUP BY 1, 2
            """, logger: logger).decode((String, Int, Int).self) {
            var entry = ratings[version] ?? (0, 0, [:])
            entry.count += n
            entry.sum += rating * n
            entry.distribution[String(rating)] = n
            ratings[version] = entry
        }
        let perModel = ratings.sorted { $0.key < $1.key }.map { version, e in
            FeedbackReport.Ratings(modelVersion: version, count: e.count, mean: Double(e.sum) / Double(e.count),
                                   distribution: Dictionary(uniqueKeysWithValues: (1 ... 5).map { (String($0), e.distribution[String($0)] ?? 0) }))
        }
        return FeedbackReport(since: since, drafts: drafts, fields: fields, mostCorrected: mistakes, ratings: perModel)
    }

    /// A field value as text: strings as themselves, gemstone arrays as a sorted comma list.
    static func display(_ column: String) -> String {
        """
        CASE jsonb_typeof(\(column)) WHEN 'array' THEN (SELECT string_agg(x, ',' ORDER BY x) FROM jsonb_array_elements_text(\(column)) AS a(x))
        ELSE \(column) #>> '{}' END
        """
    }
}

/// The automatic retraining trigger: counts the approved moderator edits and artisan feedback records
/// that arrived since the last retraining was queued, and queues one when there are at least N.
public struct RetrainTrigger: Sendable {
    public let queue: JobQueue
    /// 0 disables the trigger.
    public let threshold: Int

    public init(queue: JobQueue, threshold: Int) {
        precondition(threshold >= 0, "the trigger threshold is not negative")
        (self.queue, self.threshold) = (queue, threshold)
    }

    /// New signals since the last retrain job was queued: edits of drafts approved since then, and
    /// feedback given or changed since then.
    public func pending(logger: Logger) async throws -> Int {
        var n = 0
        for count in try await queue.client.rows("""
            WITH since AS (SELECT COALESCE(max(created_at), '-infinity'::timestamptz) AS t FROM jobs WHERE kind = 'retrain')
            SELECT ((SELECT count(*) FROM draft_edits e JOIN drafts d ON d.id = e.draft_id, since
                     WHERE d.status = 'approved' AND d.decided_at > since.t)
                  + (SELECT count(*) FROM draft_feedback f, since WHERE f.updated_at > since.t))::int
            """, logger: logger).decode(Int.self) { n = count }
        return n
    }

    /// Queues a retraining when due. Returns the job when one was queued.
    @discardableResult
    public func check(logger: Logger) async throws -> Job? {
        guard threshold > 0 else { return nil }
        let n = try await pending(logger: logger)
        guard n >= threshold else { return nil }
        let payload = #"{"reason": "automatic: \#(n) new approved edits and feedback records (threshold \#(threshold))"}"#
        let (job, created) = try await queue.enqueue(.retrain, payload: payload, logger: logger)
        if created { logger.info("retraining queued", metadata: ["job": "\(job.id)", "signals": "\(n)"]) }
        return created ? job : nil
    }
}
