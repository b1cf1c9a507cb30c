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

/// An approved listing as the retraining loop sees it: the published (moderator-approved) text and
/// labels, the text the model generated, which fields a moderator edited and which the artisan's
/// feedback disputes.
public struct ListingExample: Sendable, Equatable {
    public let listingID: Int64
    public let productID: Int64
    public let split: DatasetSplit
    public let title: String
    /// The published description: the moderator's edit, or the generated text the moderator approved.
    public let description: String
    /// What the model wrote for the description.
    public let generatedDescription: String?
    public let attributes: Attributes
    public let images: [ObjectKey]
    /// Fields a moderator edited before approving.
    public let editedFields: [String]
    /// Attribute fields whose value the artisan's feedback says is wrong (their correction differs).
    public let disputedFields: [String]

    public var descriptionEdited: Bool { editedFields.contains("description") }

    public init(listingID: Int64, productID: Int64, split: DatasetSplit, title: String, description: String, generatedDescription: String?,
                attributes: Attributes, images: [ObjectKey], editedFields: [String], disputedFields: [String]) {
        (self.listingID, self.productID, self.split, self.title, self.description) = (listingID, productID, split, title, description)
        (self.generatedDescription, self.attributes, self.images) = (generatedDescription, attributes, images)
        (self.editedFields, self.disputedFields) = (editedFields, disputedFields)
    }
}

extension TrainingDataRepository {
    /// Every approved listing with its final labels, photos, edits and the artisan's disputes.
    public func listings(on connection: PostgresConnection, logger: Logger) async throws -> [ListingExample] {
        struct Row { var listing: Int64; var split: String; var title: String; var description: String; var generated: String?
                     var edited: [String]; var corrections: String?; var attributes: [(String, String)] = []; var images: [ObjectKey] = [] }
        var rows: [Int64: Row] = [:], order: [Int64] = []
        let listings = try await connection.query("""
            SELECT l.id, l.product_id, p.split, l.title, l.description, df.generated_value #>> '{}',
                   COALESCE((SELECT array_agg(DISTINCT e.field) FROM draft_edits e WHERE e.draft_id = l.draft_id), '{}'),
                   (SELECT jsonb_object_agg(k, v)::text FROM draft_feedback f, jsonb_each_text(f.corrections) AS c(k, v) WHERE f.draft_id = l.draft_id)
            FROM listings l JOIN products p ON p.id = l.product_id
            LEFT JOIN draft_fields df ON df.draft_id = l.draft_id AND df.field = 'description'
            ORDER BY l.id
            """, logger: logger)
        for try await (listing, product, split, title, description, generated, edited, corrections)
            in listings.decode((Int64, Int64, String, String, String, String?, [String], String?).self) {
            rows[product] = Row(listing: listing, split: split, title: title, description: description, generated: generated,
                                edited: edited.sorted(), corrections: corrections)
            order.append(product)
        }
        guard !order.isEmpty else { return [] }
        let attributes = try await connection.query("""
            SELECT product_id, field, value FROM product_attributes WHERE product_id = ANY(\(order)) ORDER BY product_id, field, value
            """, logger: logger)
        for try await (id, field, value) in attributes.decode((Int64, String, String).self) { rows[id]?.attributes.append((field, value)) }
        let images = try await connection.query("""
            SELECT product_id, object_key FROM product_images WHERE product_id = ANY(\(order)) AND source <> 'synthetic' ORDER BY product_id, position
            """, logger: logger)
        for try await (id, key) in images.decode((Int64, String).self) { if let key = ObjectKey(key) { rows[id]?.images.append(key) } }
        return order.compactMap { product in
            guard let r = rows[product], let split = DatasetSplit(rawValue: r.split), !r.images.isEmpty else { return nil }
            func one(_ field: String) -> String { r.attributes.first { $0.0 == field }?.1 ?? "" }
            let gems = r.attributes.filter { $0.0 == "gemstone" }.map(\.1)
            let attributes = Attributes(category: one("category"), metal: one("metal"), gemstones: gems.isEmpty ? ["none"] : gems,
                                        style: one("style"), finish: one("finish"))
            var disputed: [String] = []
            if let json = r.corrections, let corrections = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)) {
                for field in ["category", "metal", "style", "finish"] where corrections[field].map({ $0 != attributes.value(field) }) == true {
                    disputed.append(field)
                }
                // Gemstones arrive as a JSON array rendered to text ("[\"ruby\"]").
                if let text = corrections["gemstones"], let stones = try? JSONDecoder().decode([String].self, from: Data(text.utf8)),
                   Set(stones.isEmpty ? ["none"] : stones) != Set(attributes.gemstones) {
                    disputed.append("gemstones")
                }
            }
            return ListingExample(listingID: r.listing, productID: product, split: split, title: r.title, description: r.description,
                                  generatedDescription: r.generated, attributes: attributes, images: r.images, editedFields: r.edited,
                                  disputedFields: disputed)
        }
    }
}

