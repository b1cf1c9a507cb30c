import Catalog
import Foundation
import Logging
import PostgresNIO

/// Reads the captioner's training, validation and test examples from PostgreSQL. Photos stay in the
/// object store (keys only here); synthetic images are never used as product photos.
public struct TrainingDataRepository: Sendable {
    public init() {}

    public func examples(splits: [DatasetSplit], on connection: PostgresConnection, logger: Logger) async throws -> [CaptionExample] {
        let names = splits.map(\.rawValue)
        struct Product { var externalID: String; var split: String; var title: String; var attributes: [(String, String)] = []
                         var descriptions: [String] = []; var images: [ObjectKey] = [] }
        var products: [Int64: Product] = [:]
        var order: [Int64] = []
        let rows = try await connection.query(
            "SELECT id, external_id, split, title FROM products WHERE split = ANY(\(names)) AND source = 'catalogue' ORDER BY id", logger: logger)
        for try await (id, externalID, split, title) in rows.decode((Int64, String, String, String).self) {
            products[id] = Product(externalID: externalID, split: split, title: title)
            order.append(id)
        }
        let attributes = try await connection.query("""
            SELECT a.product_id, a.field, a.value FROM product_attributes a JOIN products p ON p.id = a.product_id
            WHERE p.split = ANY(\(names)) ORDER BY a.product_id, a.field, a.value
            """, logger: logger)
        for try await (id, field, value) in attributes.decode((Int64, String, String).self) { products[id]?.attributes.append((field, value)) }
        let descriptions = try await connection.query("""
            SELECT d.product_id, d.text FROM product_descriptions d JOIN products p ON p.id = d.product_id
            WHERE p.split = ANY(\(names)) ORDER BY d.product_id, d.position
            """, logger: logger)
        for try await (id, text) in descriptions.decode((Int64, String).self) { products[id]?.descriptions.append(text) }
        let images = try await connection.query("""
            SELECT i.product_id, i.object_key FROM product_images i JOIN products p ON p.id = i.product_id
            WHERE p.split = ANY(\(names)) AND i.source <> 'synthetic' ORDER BY i.product_id, i.position
            """, logger: logger)
        for try await (id, key) in images.decode((Int64, String).self) {
            if let key = ObjectKey(key) { products[id]?.images.append(key) }
        }
        return order.compactMap { id -> CaptionExample? in
            guard let p = products[id], let split = DatasetSplit(rawValue: p.split), !p.images.isEmpty, !p.descriptions.isEmpty
            else { return nil }
            func one(_ field: String) -> String { p.attributes.first { $0.0 == field }?.1 ?? "" }
            let gems = p.attributes.filter { $0.0 == "gemstone" }.map(\.1)
            let attributes = Attributes(category: one("category"), metal: one("metal"), gemstones: gems.isEmpty ? ["none"] : gems,
                                        style: one("style"), finish: one("finish"))
            return CaptionExample(productID: id, externalID: p.externalID, split: split, attributes: attributes, title: p.title,
                                  descriptions: p.descriptions, images: p.images)
        }
    }
}

/// The model registry (`models`, `model_training_products`).
public struct ModelRegistry: Sendable {
    public struct Record: Sendable, Equatable {
        public let id: Int64
        public let kind: String
        public let version: String
        public let path: String
        public let sha256: String
        public let status: String
        public let metrics: String
        public let createdAt: Date
    }

    public init() {}

    /// Records a trained model and its training snapshot (product ids per split) in one transaction.
    /// With `activate`, it becomes the kind's active model and the previous one is retired.
    @discardableResult
    public func register(kind: String, version: String, path: String, sha256: String, configJSON: String, metricsJSON: String,
                         snapshotJSON: String, products: [(id: Int64, split: String)], activate: Bool, parent: Int64? = nil,
                         on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        try await connection.withTransaction(logger: logger) { tx in
            if activate {
                try await tx.query("UPDATE models SET status = 'retired' WHERE kind = \(kind) AND status = 'active'", logger: logger)
            }
            let status = activate ? "active" : "candidate"
            let rows = try await tx.query("""
                INSERT INTO models (kind, version, path, sha256, status, parent_id, config, metrics, snapshot, promoted_at)
                VALUES (\(kind), \(version), \(path), \(sha256), \(status), \(parent), \(configJSON)::jsonb, \(metricsJSON)::jsonb,
                        \(snapshotJSON)::jsonb, CASE WHEN \(activate) THEN now() END)
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
            return id
        }
    }

    public func active(kind: String, on connection: PostgresConnection, logger: Logger) async throws -> Record? {
        try await list(kind: kind, on: connection, logger: logger).first { $0.status == "active" }
    }

    public func list(kind: String, on connection: PostgresConnection, logger: Logger) async throws -> [Record] {
        let rows = try await connection.query("""
            SELECT id, kind, version, path, sha256, status, metrics::text, created_at FROM models WHERE kind = \(kind) ORDER BY id
            """, logger: logger)
        var out: [Record] = []
        for try await (id, kind, version, path, sha, status, metrics, created) in rows.decode((Int64, String, String, String, String, String, String, Date).self) {
            out.append(Record(id: id, kind: kind, version: version, path: path, sha256: sha, status: status, metrics: metrics, createdAt: created))
        }
        return out
    }
}
