import Catalog
import Foundation
import Logging
import PostgresNIO

/// One generated image as stored: a row of `synthetic_images`.
public struct SyntheticImage: Sendable, Equatable, Codable {
    public let id: Int64
    public let batch: UUID
    public let position: Int
    public let modelVersion: String
    /// The labels the generator was conditioned on (`category` → `ring`).
    public let conditions: [String: String]
    public let key: ObjectKey
    public let width: Int
    public let height: Int
    public let source: String
    public let requestedBy: Int64?
    public let createdAt: Date
}

/// What a generation request hands the repository: the stored PNGs, in order.
public struct NewSyntheticImages: Sendable {
    public let modelVersion: String
    public let images: [(key: ObjectKey, width: Int, height: Int, conditions: [String: String])]
    public let requestedBy: Int64?

    public init(modelVersion: String, images: [(key: ObjectKey, width: Int, height: Int, conditions: [String: String])], requestedBy: Int64?) {
        precondition(!images.isEmpty, "at least one image")
        (self.modelVersion, self.images, self.requestedBy) = (modelVersion, images, requestedBy)
    }
}

/// `synthetic_images`: generated pictures, apart from product photos (`product_images`), so that none
/// becomes a product's photo without someone choosing it.
public struct SyntheticImageRepository: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) { self.client = client }

    /// Writes one batch in one transaction (the PNGs are already in the object store) and returns its rows.
    public func insert(_ new: NewSyntheticImages, logger: Logger) async throws -> [SyntheticImage] {
        let batch = UUID()
        let positions = Array(0 ..< new.images.count), keys = new.images.map(\.key.hex)
        let widths = new.images.map(\.width), heights = new.images.map(\.height)
        let conditions = try new.images.map { String(decoding: try JSONEncoder.loupe.encode($0.conditions), as: UTF8.self) }
        let ids = try await client.transaction(logger: logger) { tx in
            let rows = try await tx.query("""
                INSERT INTO synthetic_images (batch, position, model_version, conditions, category, metal, object_key, width, height, requested_by)
                SELECT \(batch), p, \(new.modelVersion), c::jsonb, c::jsonb->>'category', c::jsonb->>'metal', k, w, h, \(new.requestedBy)
                FROM unnest(\(positions)::int[], \(conditions)::text[], \(keys)::text[], \(widths)::int[], \(heights)::int[]) AS t(p, c, k, w, h)
                RETURNING id
                """, logger: logger)
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            return ids
        }
        precondition(ids.count == new.images.count, "one row per image")
        return try await batchRows(batch, logger: logger)
    }

    public func find(_ id: Int64, logger: Logger) async throws -> SyntheticImage? {
        try await select("WHERE id = $1", id, logger: logger).first
    }

    func batchRows(_ batch: UUID, logger: Logger) async throws -> [SyntheticImage] {
        try await select("WHERE batch = $1", batch, logger: logger)
    }

    private func select(_ filter: String, _ value: some PostgresEncodable & Sendable, logger: Logger) async throws -> [SyntheticImage] {
        var bindings = PostgresBindings()
        try bindings.append(value)
        let query = PostgresQuery(unsafeSQL: """
            SELECT id, batch, position, model_version, conditions::text, object_key, width, height, source, requested_by, created_at
            FROM synthetic_images \(filter) ORDER BY batch, position
            """, binds: bindings)
        var out: [SyntheticImage] = []
        let rows = try await client.rows(query, logger: logger)
        for (id, batch, position, version, conditions, key, width, height, source, requestedBy, createdAt)
            in try rows.decode((Int64, UUID, Int, String, String, String, Int, Int, String, Int64?, Date).self) {
            guard let key = ObjectKey(key) else { continue }
            let labels = try JSONDecoder().decode([String: String].self, from: Data(conditions.utf8))
            out.append(SyntheticImage(id: id, batch: batch, position: position, modelVersion: version, conditions: labels, key: key, width: width,
                                      height: height, source: source, requestedBy: requestedBy, createdAt: createdAt))
        }
        return out
    }
}
