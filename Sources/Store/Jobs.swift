import Foundation
import Logging
import PostgresNIO

/// Kinds of background job. Each has one runner in the worker.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case retrain
}

public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed
}

/// One row of `jobs`.
public struct Job: Sendable, Equatable {
    public let id: Int64
    public let kind: JobKind
    /// JSON text.
    public let payload: String
    public let status: JobStatus
    public let attempts: Int
    public let maxAttempts: Int
    public let requestedBy: Int64?
    public let worker: String?
    public let progress: String
    public let error: String?
    /// JSON text.
    public let result: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
}

public enum JobError: Error, CustomStringConvertible, Equatable {
    /// The job is no longer this worker's: its lease expired and another worker took it, or it finished.
    case leaseLost(id: Int64, worker: String)
    case notFound(Int64)

    public var description: String {
        switch self {
        case .leaseLost(let id, let worker): "job \(id) is no longer held by \(worker) (its lease expired and another worker took it)"
        case .notFound(let id): "no job \(id)"
        }
    }
}

/// The job queue in PostgreSQL. Workers claim with `FOR UPDATE SKIP LOCKED`, so two workers never take
/// the same row; a claimed job carries its worker's name and a heartbeat, and a running job whose
/// heartbeat is older than the lease is claimable again (its worker died). Every change made on
/// behalf of a worker checks that the worker still holds the job.
public struct JobQueue: Sendable {
    public let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    static let columns = """
        id, kind, payload::text, status, attempts, max_attempts, requested_by, worker, progress, error, result::text,
        created_at, started_at, finished_at
        """

    /// Queues a job. For kinds that allow one open job (retrain), a request while one is queued or
    /// running returns that job instead (`created` false).
    public func enqueue(_ kind: JobKind, payload: String = "{}", requestedBy: Int64? = nil, maxAttempts: Int = 3,
                        logger: Logger) async throws -> (job: Job, created: Bool) {
        precondition(maxAttempts >= 1, "a job needs at least one attempt")
        let rows = try await client.rows("""
            INSERT INTO jobs (kind, payload, requested_by, max_attempts) VALUES (\(kind.rawValue), \(payload)::jsonb, \(requestedBy), \(maxAttempts))
            ON CONFLICT (kind) WHERE kind = 'retrain' AND status IN ('queued', 'running') DO NOTHING
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        if let job = try Self.decode(rows).first { return (job, true) }
        let open = try await client.rows("""
            SELECT \(unescaped: Self.columns) FROM jobs WHERE kind = \(kind.rawValue) AND status IN ('queued', 'running') ORDER BY id LIMIT 1
            """, logger: logger)
        guard let job = try Self.decode(open).first else {
            // The open job finished between the two statements: queue again.
            return try await enqueue(kind, payload: payload, requestedBy: requestedBy, maxAttempts: maxAttempts, logger: logger)
        }
        return (job, false)
    }

    /// Claims the oldest runnable job of the given kinds: a queued one, or a running one whose heartbeat
    /// is older than `lease` (its worker is presumed dead; the attempt counts). A job out of attempts is
    /// marked failed instead of being run again.
    public func claim(worker: String, kinds: [JobKind] = JobKind.allCases, lease: Duration, logger: Logger) async throws -> Job? {
        let names = kinds.map(\.rawValue)
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        while true {
            let rows = try await client.rows("""
                UPDATE jobs SET status = 'running', worker = \(worker), heartbeat_at = now(), attempts = attempts + 1,
                                started_at = COALESCE(started_at, now()), progress = '',
                                error = CASE WHEN status = 'running' THEN 'worker ' || worker || ' stopped sending heartbeats' ELSE error END
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE kind = ANY(\(names)) AND run_after <= now()
                      AND (status = 'queued' OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => \(seconds))))
                    ORDER BY run_after, id
                    FOR UPDATE SKIP LOCKED
                    LIMIT 1)
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            guard let job = try Self.decode(rows).first else { return nil }
            if job.attempts <= job.maxAttempts { return job }
            // Out of attempts: it failed every time it ran (or killed its worker each time).
            _ = try await finish(job.id, worker: worker, status: .failed, result: nil,
                                 error: "gave up after \(job.maxAttempts) attempts; last: \(job.error ?? "unknown")", logger: logger)
        }
    }

    /// Renews the lease and records progress. Throws `leaseLost` when another worker holds the job now.
    public func heartbeat(_ id: Int64, worker: String, progress: String? = nil, logger: Logger) async throws {
        let rows = try await client.rows("""
            UPDATE jobs SET heartbeat_at = now(), progress = COALESCE(\(progress), progress)
            WHERE id = \(id) AND status = 'running' AND worker = \(worker) RETURNING id
            """, logger: logger)
        guard rows.count == 1 else { throw JobError.leaseLost(id: id, worker: worker) }
    }

    /// Marks a held job succeeded with its result.
    public func complete(_ id: Int64, worker: String, result: String, logger: Logger) async throws {
        guard try await finish(id, worker: worker, status: .succeeded, result: result, error: nil, logger: logger)
        else { throw JobError.leaseLost(id: id, worker: worker) }
    }

    /// Records a failed attempt: the job is queued again after `retryAfter` while attempts remain,
    /// otherwise it is failed for good.
    public func fail(_ id: Int64, worker: String, error: String, retryAfter: Duration = .seconds(30), logger: Logger) async throws {
        let seconds = Double(retryAfter.components.seconds)
        let rows = try await client.rows("""
            UPDATE jobs SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                            worker = NULL, heartbeat_at = NULL, error = \(error),
                            run_after = CASE WHEN attempts < max_attempts THEN now() + make_interval(secs => \(seconds)) ELSE run_after END,
                            finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END
            WHERE id = \(id) AND status = 'running' AND worker = \(worker) RETURNING id
            """, logger: logger)
        guard rows.count == 1 else { throw JobError.leaseLost(id: id, worker: worker) }
    }

    /// Hands a held job back untouched (the worker is shutting down): queued again, the attempt not counted.
    public func release(_ id: Int64, worker: String, logger: Logger) async throws {
        let rows = try await client.rows("""
            UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL, attempts = greatest(attempts - 1, 0), progress = ''
            WHERE id = \(id) AND status = 'running' AND worker = \(worker) RETURNING id
            """, logger: logger)
        guard rows.count == 1 else { throw JobError.leaseLost(id: id, worker: worker) }
    }

    private func finish(_ id: Int64, worker: String, status: JobStatus, result: String?, error: String?, logger: Logger) async throws -> Bool {
        let rows = try await client.rows("""
            UPDATE jobs SET status = \(status.rawValue), result = \(result)::jsonb, error = COALESCE(\(error), error),
                            worker = NULL, heartbeat_at = NULL, finished_at = now()
            WHERE id = \(id) AND status = 'running' AND worker = \(worker) RETURNING id
            """, logger: logger)
        return rows.count == 1
    }

    public func find(_ id: Int64, logger: Logger) async throws -> Job {
        let rows = try await client.rows("SELECT \(unescaped: Self.columns) FROM jobs WHERE id = \(id)", logger: logger)
        guard let job = try Self.decode(rows).first else { throw JobError.notFound(id) }
        return job
    }

    public func list(limit: Int = 50, logger: Logger) async throws -> [Job] {
        let rows = try await client.rows("SELECT \(unescaped: Self.columns) FROM jobs ORDER BY id DESC LIMIT \(limit)", logger: logger)
        return try Self.decode(rows)
    }

    static func decode(_ rows: [PostgresRow]) throws -> [Job] {
        var out: [Job] = []
        for (id, kind, payload, status, attempts, maxAttempts, requestedBy, worker, progress, error, result, created, started, finished)
            in try rows.decode((Int64, String, String, String, Int, Int, Int64?, String?, String, String?, String?, Date, Date?, Date?).self) {
            out.append(Job(id: id, kind: JobKind(rawValue: kind) ?? .retrain, payload: payload, status: JobStatus(rawValue: status) ?? .failed,
                           attempts: attempts, maxAttempts: maxAttempts, requestedBy: requestedBy, worker: worker, progress: progress,
                           error: error, result: result, createdAt: created, startedAt: started, finishedAt: finished))
        }
        return out
    }

}
