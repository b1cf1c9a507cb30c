import Catalog
import Foundation
import Imaging
import Logging
import PostgresNIO

/// Loads a catalogue directory (see `CatalogueFile`) into the object store and PostgreSQL.
///
/// - Every row is checked first — taxonomy values, required fields, each image readable and decodable
///   within the pixel budget — and a bad row is reported with its line and reason, never imported.
/// - Good rows are written in batched transactions; if a batch fails, its rows are retried one by one,
///   so one bad row cannot stop or half-write the rest.
/// - Idempotent: products are keyed by `external_id`, images by content; running it twice adds nothing.
public struct CatalogImporter: Sendable {
    public struct Report: Sendable, Equatable {
        public var imported = 0
        public var alreadyPresent = 0
        public var imagesStored = 0
        public var failures: [CatalogueLineError] = []
    }

    public let store: any ObjectStore
    public let taxonomy: Taxonomy
    public var batchSize = 200
    public var pixelBudget = RGBImage.defaultPixelBudget

    public init(store: any ObjectStore, taxonomy: Taxonomy = .standard) {
        (self.store, self.taxonomy) = (store, taxonomy)
    }

    struct PreparedImage: Sendable { let key: ObjectKey; let width: Int; let height: Int }
    struct Prepared: Sendable { let line: Int; let record: CatalogueRecord; let images: [PreparedImage] }

    public func importDirectory(_ directory: URL, connection: PostgresConnection, logger: Logger,
                                progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        let (records, parseErrors) = try CatalogueFile.read(directory: directory)
        var report = Report(failures: parseErrors)
        var seen = Set<String>()
        var prepared: [Prepared] = []
        for (line, record) in records {
            do {
                guard seen.insert(record.externalID).inserted else {
                    throw CatalogueLineError(line: line, reason: "duplicate external_id \(record.externalID)")
                }
                prepared.append(try await prepare(line: line, record: record, directory: directory))
            } catch let error as CatalogueLineError {
                report.failures.append(error)
            }
        }
        var done = 0
        for start in stride(from: 0, to: prepared.count, by: batchSize) {
            let batch = Array(prepared[start ..< min(start + batchSize, prepared.count)])
            do {
                let outcome = try await connection.withTransaction(logger: logger) { tx in
                    var outcome = (imported: 0, present: 0)
                    for row in batch {
                        if try await insert(row, on: tx, logger: logger) { outcome.imported += 1 } else { outcome.present += 1 }
                    }
                    return outcome
                }
                report.imported += outcome.imported
                report.alreadyPresent += outcome.present
            } catch {
                // Isolate the row that broke the batch; the others still go in.
                logger.warning("batch failed, retrying rows one by one", metadata: ["error": "\(String(reflecting: error))"])
                for row in batch {
                    do {
                        let inserted = try await connection.withTransaction(logger: logger) { tx in
                            try await insert(row, on: tx, logger: logger)
                        }
                        if inserted { report.imported += 1 } else { report.alreadyPresent += 1 }
                    } catch {
                        report.failures.append(CatalogueLineError(line: row.line, reason: "database rejected the row: \(postgresMessage(error))"))
                    }
                }
            }
            done += batch.count
            progress(done, prepared.count)
        }
        report.imagesStored = Set(prepared.flatMap { $0.images.map(\.key) }).count
        report.failures.sort { $0.line < $1.line }
        return report
    }

    func prepare(line: Int, record: CatalogueRecord, directory: URL) async throws -> Prepared {
        func fail(_ reason: String) -> CatalogueLineError { CatalogueLineError(line: line, reason: reason) }
        if record.externalID.isEmpty { throw fail("empty external_id") }
        if record.artisan.isEmpty { throw fail("empty artisan") }
        if record.title.isEmpty { throw fail("empty title") }
        if record.descriptions.isEmpty || record.descriptions.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw fail("needs at least one non-empty description")
        }
        if record.images.isEmpty { throw fail("needs at least one image") }
        let problems = taxonomy.validate(record.attributes)
        if !problems.isEmpty { throw fail(problems.joined(separator: "; ")) }
        var images: [PreparedImage] = []
        for path in record.images {
            // Image paths stay inside the catalogue directory.
            let url = directory.appendingPathComponent(path).standardizedFileURL
            guard url.path.hasPrefix(directory.standardizedFileURL.path + "/") else { throw fail("image path \(path) leaves the catalogue directory") }
            guard let data = FileManager.default.contents(atPath: url.path) else { throw fail("image \(path) cannot be read") }
            let info: ImageInfo
            do {
                info = try RGBImage(decoding: data, pixelBudget: pixelBudget).info
            } catch {
                throw fail("image \(path): \(error.description)")
            }
            let key = try await store.put(data)
            images.append(PreparedImage(key: key, width: info.width, height: info.height))
        }
        return Prepared(line: line, record: record, images: images)
    }

    /// Inserts one product with its attributes, texts and images; false when it was already there.
    func insert(_ row: Prepared, on tx: PostgresConnection, logger: Logger) async throws -> Bool {
        let r = row.record
        try await tx.query("""
            INSERT INTO artisans (handle, display_name) VALUES (\(r.artisan), \(r.artisan))
            ON CONFLICT (handle) DO NOTHING
            """, logger: logger)
        let split = DatasetSplit.of(externalID: r.externalID).rawValue
        let ids = try await tx.query("""
            INSERT INTO products (external_id, artisan_id, title, split, taxonomy_version, design)
            SELECT \(r.externalID), id, \(r.title), \(split), \(taxonomy.version), \(r.design) FROM artisans WHERE handle = \(r.artisan)
            ON CONFLICT (external_id) DO NOTHING
            RETURNING id
            """, logger: logger)
        var productID: Int64?
        for try await id in ids.decode(Int64.self) { productID = id }
        guard let productID else { return false }
        let a = r.attributes
        let fields = ["category", "metal", "style", "finish"] + Array(repeating: "gemstone", count: a.gemstones.count)
        let values = [a.category, a.metal, a.style, a.finish] + a.gemstones
        try await tx.query("""
            INSERT INTO product_attributes (product_id, field, value)
            SELECT \(productID), f, v FROM unnest(\(fields)::text[], \(values)::text[]) AS t(f, v)
            """, logger: logger)
        try await tx.query("""
            INSERT INTO product_descriptions (product_id, position, text)
            SELECT \(productID), p - 1, t FROM unnest(\(r.descriptions)::text[]) WITH ORDINALITY AS d(t, p)
            """, logger: logger)
        let keys = row.images.map(\.key.hex), widths = row.images.map(\.width), heights = row.images.map(\.height)
        try await tx.query("""
            INSERT INTO product_images (product_id, position, object_key, sha256, width, height, source)
            SELECT \(productID), p - 1, k, k, w, h, 'catalogue'
            FROM unnest(\(keys)::text[], \(widths)::int[], \(heights)::int[]) WITH ORDINALITY AS i(k, w, h, p)
            ON CONFLICT DO NOTHING
            """, logger: logger)
        return true
    }
}
