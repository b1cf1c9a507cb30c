import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Retraining
import Store

/// Admin endpoints of the retraining loop: queue a retraining, follow a job, read the feedback report.
struct AdminController: Sendable {
    let jobs: JobQueue
    let reports: FeedbackReportRepository

    func addRoutes(to router: Router<LoupeRequestContext>) {
        let admin = router.group("v1/admin")
        admin.post("retrain", use: retrain)
        admin.get("jobs/:id", use: job)
        admin.get("feedback-report", use: feedbackReport)
    }

    /// 202 with the queued job; when a retraining is already queued or running, 202 with that job
    /// (`"created": false`) — one retraining at a time.
    @Sendable func retrain(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        var body = RetrainRequest()
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        if buffer.readableBytes > 0 {
            do {
                body = try JSONDecoder().decode(RetrainRequest.self, from: Data(buffer.readableBytesView))
            } catch let error as DecodingError {
                throw APIError.badRequest("malformed JSON: " + APIError.describe(error))
            }
        }
        do { try body.validate() } catch let error as RetrainError { throw APIError.unprocessable("invalid_field", error.description) }
        if body.reason == nil { body.reason = "requested by \(user.name)" }
        let payload = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
        let (job, created) = try await jobs.enqueue(.retrain, payload: payload, requestedBy: user.id, logger: context.logger)
        context.logger.info("retraining requested", metadata: ["job": "\(job.id)", "created": "\(created)", "by": "\(user.name)"])
        return try JobView(job, created: created).response(from: request, context: context, status: .accepted, location: "/v1/admin/jobs/\(job.id)")
    }

    @Sendable func job(_ request: Request, context: LoupeRequestContext) async throws -> JobView {
        _ = try context.requireAdmin()
        guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.notFound("no such job") }
        do {
            return JobView(try await jobs.find(id, logger: context.logger), created: nil)
        } catch JobError.notFound {
            throw APIError.notFound("no job \(id)")
        }
    }

    @Sendable func feedbackReport(_ request: Request, context: LoupeRequestContext) async throws -> FeedbackReport {
        _ = try context.requireAdmin()
        var since: Date? = nil
        if let text = request.uri.queryParameters.get("since") {
            guard let date = ISO8601DateFormatter().date(from: text) ?? Self.day.date(from: text) else {
                throw APIError.badRequest("since must be a date (2026-11-01) or an ISO 8601 time")
            }
            since = date
        }
        return try await reports.report(since: since, logger: context.logger)
    }

    static let day: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f
    }()
}

extension FeedbackReport: ResponseEncodable {}

/// A job as the API shows it.
struct JobView: Codable, ResponseEncodable {
    let id: Int64
    let kind: String
    let status: String
    let attempts: Int
    let maxAttempts: Int
    let progress: String
    let error: String?
    /// The job's request (payload) and result, as JSON objects.
    let request: JSONValue
    let result: JSONValue?
    let createdAt: Date
    let startedAt: Date?
    let finishedAt: Date?
    /// Only on POST: false when the request joined a retraining already queued or running.
    let created: Bool?

    enum CodingKeys: String, CodingKey {
        case id, kind, status, attempts, progress, error, request, result, created
        case maxAttempts = "max_attempts", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    init(_ job: Job, created: Bool?) {
        (id, kind, status, attempts, maxAttempts) = (job.id, job.kind.rawValue, job.status.rawValue, job.attempts, job.maxAttempts)
        (progress, error, createdAt, startedAt, finishedAt, self.created) = (job.progress, job.error, job.createdAt, job.startedAt, job.finishedAt, created)
        request = (try? JSONDecoder().decode(JSONValue.self, from: Data(job.payload.utf8))) ?? .object([:])
        result = job.result.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    }

}

/// Any JSON value, for passing stored JSON through.
indirect enum JSONValue: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
