import Catalog
import Foundation
import Logging
import PostgresNIO

public enum ModelStatus: String, Codable, Sendable, CaseIterable {
    case candidate, active, rejected, retired
}

public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case notFound(Int64)
    case cannotPromote(id: Int64, status: ModelStatus)
    case fileMismatch(id: Int64, path: String)
    /// The active model changed while a candidate was being judged against it.
    case activeChanged(expected: Int64?, now: Int64?)
    case nothingToRollBackTo(kind: String)
    case noActiveModel(kind: String)

    public var description: String {
        switch self {
        case .notFound(let id): "no model \(id) in the registry"
        case .cannotPromote(let id, let status): "model \(id) is \(status.rawValue); only a candidate or retired model can be promoted (rejected ones with --force)"
        case .fileMismatch(let id, let path): "model \(id)'s file \(path) is missing or does not match its recorded SHA-256; not promoted"
        case .activeChanged(let expected, let now):
            "the active model changed from \(expected.map(String.init) ?? "none") to \(now.map(String.init) ?? "none") during evaluation"
        case .nothingToRollBackTo(let kind): "no earlier \(kind) model was active: nothing to roll back to"
        case .noActiveModel(let kind): "no \(kind) model is active"
        }
    }
}

/// The model registry (`models`, `model_training_products`, `model_training_listings`). Every status
/// change is one transaction under row locks; at most one model per kind is active (a unique index).
public struct ModelRegistry: Sendable {
    public struct Record: Sendable, Equatable {
        public let id: Int64
        public let kind: String
        public let version: String
        public let path: String
        public let sha256: String
        public let status: String
        public let statusReason: String?
        public let parentID: Int64?
        public let jobID: Int64?
        /// JSON text.
        public let metrics: String
        /// JSON text.
        public let snapshot: String
        public let createdAt: Date
        public let promotedAt: Date?
        public let rolledBackAt: Date?
    }

    /// What a retrained model learned from an approved listing.
    public struct ListingUse: Sendable, Equatable {
        public let listingID: Int64
        public let used: Bool
        public let reason: String?
        public let reference: String
        public let replacedText: String?
        public let correctedFields: [String]
        public init(listingID: Int64, used: Bool, reason: String?, reference: String, replacedText: String?, correctedFields: [String]) {
            (self.listingID, self.used, self.reason, self.reference) = (listingID, used, reason, reference)
            (self.replacedText, self.correctedFields) = (replacedText, correctedFields)
        }
    }

    public init() {}

    /// Records a trained model and its training snapshot (product ids per split, listings used) in one
    /// transaction. With `activate`, it becomes the kind's active model and the previous one is retired.
    @discardableResult
    public func register(kind: String, version: String, path: String, sha256: String, configJSON: String, metricsJSON: String,
                         snapshotJSON: String, products: [(id: Int64, split: String)], listings: [ListingUse] = [], activate: Bool,
                         status: ModelStatus? = nil, statusReason: String? = nil, parent: Int64? = nil, jobID: Int64? = nil,
                         worker: String? = nil, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        precondition(!activate || status == nil || status == .active, "an activated model is active")
        precondition(worker == nil || jobID != nil, "a worker registers for a job")
        return try await Self.transaction(connection, logger: logger) { tx in
            if let jobID, let worker {
                // Only while the worker still holds its job: a worker whose lease expired must not add a second candidate.
                var held = 0
                for try await _ in try await tx.query("""
                    SELECT id FROM jobs WHERE id = \(jobID) AND status = 'running' AND worker = \(worker) FOR UPDATE
                    """, logger: logger) { held += 1 }
                guard held == 1 else { throw JobError.leaseLost(id: jobID, worker: worker) }
            }
            if activate {
                try await tx.query("UPDATE models SET status = 'retired' WHERE kind = \(kind) AND status = 'active'", logger: logger)
            }
            let status = activate ? "active" : (status ?? .candidate).rawValue
            let rows = try await tx.query("""
                INSERT INTO models (kind, version, path, sha256, status, status_reason, parent_id, job_id, config, metrics, snapshot, promoted_at)
                VALUES (\(kind), \(version), \(path), \(sha256), \(status), \(statusReason), \(parent), \(jobID), \(configJSON)::jsonb,
                        \(metricsJSON)::jsonb, \(snapshotJSON)::jsonb, CASE WHEN \(activate) THEN now() END)
                RETURNING id
                """, logger: logger)
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            let ids = products.map(\.id), splits = products.map(\.split)
            if !ids.isEmpty {
                try await tx.query("""
                    INSERT INTO model_training_products (model_id, product_id, split)
                    SELECT \(id), p, s FROM unnest(\(ids)::bigint[], \(splits)::text[]) AS t(p, s)
                    """, logger: logger)
            }
            for use in listings {
                try await tx.query("""
                    INSERT INTO model_training_listings (model_id, listing_id, usage, reason, reference, replaced_text, corrected_fields)
                    VALUES (\(id), \(use.listingID), \(use.used ? "reference" : "excluded"), \(use.reason), \(use.reference),
                            \(use.replacedText), \(use.correctedFields)::text[])
                    """, logger: logger)
            }
            return id
        }
    }

    public func active(kind: String, on connection: PostgresConnection, logger: Logger) async throws -> Record? {
        try await records(where: "kind = $1 AND status = 'active'", binds: [kind], on: connection, logger: logger).first
    }

    public func find(_ id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Record {
        guard let record = try await records(where: "id = $1", binds: [id], on: connection, logger: logger).first else {
            throw RegistryError.notFound(id)
        }
        return record
    }

    public func list(kind: String, on connection: PostgresConnection, logger: Logger) async throws -> [Record] {
        try await records(where: "kind = $1", binds: [kind], on: connection, logger: logger)
    }

    /// Makes `id` the active model of its kind and retires the one before, in one transaction. Its file
    /// must still match the recorded SHA-256. With `expectedActive`, the promotion happens only if that
    /// is still the active model (the guard compared the candidate with it). Rejected models need `force`.
    @discardableResult
    public func promote(_ id: Int64, reason: String, expectedActive: Int64?? = .none, force: Bool = false,
                        on connection: PostgresConnection, logger: Logger) async throws -> Record {
        let record = try await find(id, on: connection, logger: logger)
        guard let data = FileManager.default.contents(atPath: record.path), sha256Hex(data) == record.sha256 else {
            throw RegistryError.fileMismatch(id: id, path: record.path)
        }
        try await Self.transaction(connection, logger: logger) { tx in
            var current: Int64?, status: ModelStatus?
            let rows = try await tx.query("""
                SELECT id, status FROM models WHERE kind = \(record.kind) AND (id = \(id) OR status = 'active') ORDER BY id FOR UPDATE
                """, logger: logger)
            for try await (rowID, rowStatus) in rows.decode((Int64, String).self) {
                if rowStatus == "active" { current = rowID }
                if rowID == id { status = ModelStatus(rawValue: rowStatus) }
            }
            guard let status else { throw RegistryError.notFound(id) }
            if case .some(let expected) = expectedActive, expected != current { throw RegistryError.activeChanged(expected: expected, now: current) }
            if status == .active { return }
            guard status != .rejected || force else { throw RegistryError.cannotPromote(id: id, status: status) }
            try await tx.query("UPDATE models SET status = 'retired' WHERE kind = \(record.kind) AND status = 'active'", logger: logger)
            try await tx.query("""
                UPDATE models SET status = 'active', status_reason = \(reason), promoted_at = now(), rolled_back_at = NULL WHERE id = \(id)
                """, logger: logger)
        }
        return try await find(id, on: connection, logger: logger)
    }

    /// Marks a candidate rejected with the reason (the guard's verdict).
    public func reject(_ id: Int64, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("""
            UPDATE models SET status = 'rejected', status_reason = \(reason) WHERE id = \(id) AND status = 'candidate' RETURNING id
            """, logger: logger)
        var n = 0
        for try await _ in rows { n += 1 }
        if n == 0 { throw RegistryError.notFound(id) }
    }

    /// Returns to the model that was active before the current one: the current one is retired and
    /// marked rolled back (later rollbacks skip it), the previous one active again. One transaction.
    /// Returns (from, to).
    public func rollback(kind: String, reason: String, on connection: PostgresConnection, logger: Logger) async throws -> (from: Record, to: Record) {
        let (from, to): (Int64, Int64) = try await Self.transaction(connection, logger: logger) { tx in
            var current: Int64?
            for try await id in try await tx.query("""
                SELECT id FROM models WHERE kind = \(kind) AND status = 'active' FOR UPDATE
                """, logger: logger).decode(Int64.self) { current = id }
            guard let current else { throw RegistryError.noActiveModel(kind: kind) }
            var previous: Int64?
            for try await id in try await tx.query("""
                SELECT id FROM models WHERE kind = \(kind) AND status = 'retired' AND promoted_at IS NOT NULL AND rolled_back_at IS NULL
                ORDER BY promoted_at DESC, id DESC LIMIT 1 FOR UPDATE
                """, logger: logger).decode(Int64.self) { previous = id }
            guard let previous else { throw RegistryError.nothingToRollBackTo(kind: kind) }
            try await tx.query("""
                UPDATE models SET status = 'retired', status_reason = \(reason), rolled_back_at = now() WHERE id = \(current)
                """, logger: logger)
            try await tx.query("""
                UPDATE models SET status = 'active', status_reason = \(reason), promoted_at = now() WHERE id = \(previous)
                """, logger: logger)
            return (current, previous)
        }
        return (try await find(from, on: connection, logger: logger), try await find(to, on: connection, logger: logger))
    }

    /// A transaction whose failure is the error its body threw (postgres-nio wraps it).
    static func transaction<R: Sendable>(_ connection: PostgresConnection, logger: Logger,
                                         _ body: (PostgresConnection) async throws -> sending R) async throws -> R {
        do {
            return try await connection.withTransaction(logger: logger) { try await body($0) }
        } catch {
            throw transactionCause(error)
        }
    }

    private func records(where condition: String, binds: [any PostgresEncodable & Sendable], on connection: PostgresConnection,
                         logger: Logger) async throws -> [Record] {
        var bindings = PostgresBindings()
        for bind in binds { try bindings.append(bind) }
        let query = PostgresQuery(unsafeSQL: """
            SELECT id, kind, version, path, sha256, status, status_reason, parent_id, job_id, metrics::text, snapshot::text,
                   created_at, promoted_at, rolled_back_at
            FROM models WHERE \(condition) ORDER BY id
            """, binds: bindings)
        var out: [Record] = []
        for try await (id, kind, version, path, sha, status, reason, parent, job, metrics, snapshot, created, promoted, rolledBack)
            in try await connection.query(query, logger: logger)
            .decode((Int64, String, String, String, String, String, String?, Int64?, Int64?, String, String, Date, Date?, Date?).self) {
            out.append(Record(id: id, kind: kind, version: version, path: path, sha256: sha, status: status, statusReason: reason,
                              parentID: parent, jobID: job, metrics: metrics, snapshot: snapshot, createdAt: created, promotedAt: promoted,
                              rolledBackAt: rolledBack))
        }
        return out
    }
}
