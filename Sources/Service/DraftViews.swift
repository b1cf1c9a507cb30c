import Captioner
import Foundation
import Hummingbird
import Store

/// A claim as the API shows it: the value now, the model's confidence in it (nil once a person set it),
/// who it comes from, and whether a person still has to confirm it.
struct ClaimView: Codable, Sendable, Equatable {
    let value: String
    let confidence: Double?
    let source: String
    let needsReview: Bool

    enum CodingKeys: String, CodingKey { case value, confidence, source, needsReview = "needs_review" }
}

struct ProvenanceView: Codable, Sendable, Equatable {
    let value: FieldValue
    let generated: FieldValue
    let confidence: Double?
    let model: String
    let edit: FieldEdit?
}

struct ImageView: Codable, Sendable, Equatable {
    let position: Int
    let url: String
    let sha256: String
    let width: Int
    let height: Int
    let contentType: String
    let filename: String

    enum CodingKeys: String, CodingKey { case position, url, sha256, width, height, contentType = "content_type", filename }
}

/// `GET /v1/drafts/{id}`: the `describe` JSON (with edits applied) plus id, status, product, images,
/// provenance and timestamps.
struct DraftView: Codable, Sendable, ResponseEncodable {
    struct Attributes: Codable, Sendable, Equatable {
        let metal: ClaimView
        let gemstones: [ClaimView]
        let style: ClaimView
        let finish: ClaimView
    }
    struct Product: Codable, Sendable, Equatable { let id: Int64; let listing: Int64? }
    struct Decision: Codable, Sendable, Equatable { let by: String; let at: Date; let reason: String? }

    let id: Int64
    let status: DraftStatus
    let artisan: String
    let notes: String
    let title: String
    let description: String
    let category: ClaimView
    let attributes: Attributes
    let needsReview: [String]
    let model: String
    let modelID: Int64?
    let product: Product?
    let images: [ImageView]
    let provenance: [String: ProvenanceView]
    let decision: Decision?
    let createdAt: Date
    let updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, status, artisan, notes, title, description, category, attributes, model, product, images, provenance, decision
        case needsReview = "needs_review", modelID = "model_id", createdAt = "created_at", updatedAt = "updated_at"
    }

    init(_ record: DraftRecord) {
        let generated = try? JSONDecoder().decode(Draft.self, from: Data(record.generatedJSON.utf8))
        let edited = Set(record.fields.compactMap { $0.value.edit == nil ? nil : $0.key.rawValue })
        let review = record.needsReview.filter { !edited.contains($0) }
        func text(_ field: DraftField) -> String { record.fields[field]?.value.description ?? "" }
        func claim(_ field: DraftField) -> ClaimView {
            let f = record.fields[field]
            if let edit = f?.edit { return ClaimView(value: edit.value.description, confidence: nil, source: edit.role.rawValue, needsReview: false) }
            return ClaimView(value: f?.generated.description ?? "", confidence: f?.confidence, source: "model", needsReview: review.contains(field.rawValue))
        }
        let gems: [ClaimView]
        if let edit = record.fields[.gemstones]?.edit {
            gems = (edit.value.list ?? []).map { ClaimView(value: $0, confidence: nil, source: edit.role.rawValue, needsReview: false) }
        } else {
            gems = (generated?.attributes.gemstones ?? []).map {
                ClaimView(value: $0.value, confidence: $0.confidence, source: "model", needsReview: review.contains("gemstones"))
            }
        }
        id = record.id
        status = record.status
        artisan = record.artisan
        notes = record.notes
        title = text(.title)
        description = text(.description)
        category = claim(.category)
        attributes = Attributes(metal: claim(.metal), gemstones: gems, style: claim(.style), finish: claim(.finish))
        needsReview = review
        model = record.modelVersion
        modelID = record.modelID
        product = record.productID.map { Product(id: $0, listing: record.listingID) }
        images = record.images.map {
            ImageView(position: $0.position, url: "/v1/drafts/\(record.id)/images/\($0.position)", sha256: $0.key.hex, width: $0.width,
                      height: $0.height, contentType: $0.contentType, filename: $0.filename)
        }
        provenance = Dictionary(uniqueKeysWithValues: record.fields.map {
            ($0.key.rawValue, ProvenanceView(value: $0.value.value, generated: $0.value.generated, confidence: $0.value.confidence,
                                             model: $0.value.model, edit: $0.value.edit))
        })
        decision = record.decidedBy.flatMap { by in record.decidedAt.map { Decision(by: by, at: $0, reason: record.rejectReason) } }
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }
}

struct DraftList: Codable, Sendable, ResponseEncodable {
    let drafts: [DraftView]
    /// Pass as `before` for the next page (nil on the last page).
    let next: Int64?
}

struct ListingView: Codable, Sendable, ResponseEncodable {
    let id: Int64
    let draft: Int64
    let product: Int64
    let artisan: String
    let title: String
    let description: String
    let fields: [String: ProvenanceView]
    let publishedBy: String
    let publishedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, draft, product, artisan, title, description, fields, publishedBy = "published_by", publishedAt = "published_at"
    }

    init(_ record: ListingRecord) throws {
        id = record.id
        draft = record.draftID
        product = record.productID
        artisan = record.artisan
        title = record.title
        description = record.description
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        fields = try decoder.decode([String: ProvenanceView].self, from: Data(record.fieldsJSON.utf8))
        publishedBy = record.publishedBy
        publishedAt = record.publishedAt
    }
}

struct ListingList: Codable, Sendable, ResponseEncodable {
    let listings: [ListingView]
    let next: Int64?
}

struct FeedbackView: Codable, Sendable, ResponseEncodable {
    let id: Int64
    let draft: Int64
    let rating: Int
    let corrections: [String: FieldValue]
    let comment: String
    let model: String
    let createdAt: Date
    let updatedAt: Date

    enum CodingKeys: String, CodingKey { case id, draft, rating, corrections, comment, model, createdAt = "created_at", updatedAt = "updated_at" }

    init(_ r: FeedbackRecord) {
        (id, draft, rating, comment, model, createdAt, updatedAt) = (r.id, r.draftID, r.rating, r.comment, r.modelVersion, r.createdAt, r.updatedAt)
        corrections = Dictionary(uniqueKeysWithValues: r.corrections.map { ($0.key.rawValue, $0.value) })
    }
}

/// Field changes from a moderator's edit or an artisan's corrections:
/// `{"title": "...", "description": "...", "category": "ring", "attributes": {"metal": "rose-gold", "gemstones": ["ruby"]}}`;
/// the attribute keys are also accepted at the top level. Unknown keys are an error, not silently ignored.
struct FieldChanges: Decodable, Sendable {
    var values: [DraftField: FieldValue] = [:]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(values: [DraftField: FieldValue]) { self.values = values }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        try Self.read(container, into: &values, allowAttributes: true)
    }

    static func read(_ container: KeyedDecodingContainer<Key>, into values: inout [DraftField: FieldValue], allowAttributes: Bool) throws {
        for key in container.allKeys {
            if allowAttributes, key.stringValue == "attributes" {
                try read(container.nestedContainer(keyedBy: Key.self, forKey: key), into: &values, allowAttributes: false)
                continue
            }
            guard let field = DraftField(rawValue: key.stringValue) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription:
                    "unknown field '\(key.stringValue)' (fields: \(DraftField.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            values[field] = try container.decode(FieldValue.self, forKey: key)
        }
    }
}

struct FeedbackRequest: Decodable, Sendable {
    let rating: Int
    let corrections: FieldChanges?
    let comment: String?
}

struct RejectRequest: Decodable, Sendable {
    let reason: String
}
