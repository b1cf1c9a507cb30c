import Catalog
import Foundation
import Logging
import PostgresNIO

public enum DraftStatus: String, Codable, Sendable, CaseIterable {
    case pending, approved, rejected
}

/// The fields of a draft that carry provenance.
public enum DraftField: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
    case title, description, category, metal, gemstones, style, finish

    /// The taxonomy field a value must belong to (nil for free text).
    var taxonomyField: String? {
        switch self {
        case .title, .description: nil
        case .gemstones: "gemstone"
        default: rawValue
        }
    }
}

/// A field's value: free text or a taxonomy slug (a JSON string), or a list of gemstone slugs.
public enum FieldValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case text(String)
    case list([String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .text(text); return }
        self = .list(try container.decode([String].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .list(let list): try container.encode(list)
        }
    }

    public var text: String? { if case .text(let t) = self { t } else { nil } }
    public var list: [String]? { if case .list(let l) = self { l } else { nil } }

    public var description: String {
        switch self {
        case .text(let t): t
        case .list(let l): l.joined(separator: ", ")
        }
    }

    var json: String { String(decoding: try! JSONEncoder().encode(self), as: UTF8.self) }

    static func parse(json: String) throws -> FieldValue { try JSONDecoder().decode(FieldValue.self, from: Data(json.utf8)) }

    /// Checks a human's value for `field`: non-empty text within limits, or known taxonomy slugs.
    /// Returns the problem, or nil when the value is acceptable.
    public static func problem(_ value: FieldValue, for field: DraftField, taxonomy: Taxonomy) -> String? {
        switch (field, value) {
        case (.title, .text(let t)):
            let trimmed = t.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return "title must not be empty" }
            return trimmed.count > 140 ? "title is longer than 140 characters" : nil
        case (.description, .text(let t)):
            let trimmed = t.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return "description must not be empty" }
            return trimmed.count > 5000 ? "description is longer than 5000 characters" : nil
        case (.gemstones, .list(let stones)):
            let problems = taxonomy.validate(Attributes(category: "ring", metal: "yellow-gold", gemstones: stones,
                                                        style: taxonomy.style.slugs[0], finish: taxonomy.finish.slugs[0]))
            return problems.isEmpty ? nil : problems.joined(separator: "; ")
        case (.gemstones, .text):
            return "gemstones must be a list of gemstone slugs"
        case (_, .text(let slug)):
            guard let name = field.taxonomyField, let tfield = taxonomy[name] else { return nil }
            return tfield.contains(slug) ? nil : "unknown \(field.rawValue) '\(slug)' (one of: \(tfield.slugs.joined(separator: ", ")))"
        case (_, .list):
            return "\(field.rawValue) must be a string"
        }
    }
}

/// A human's change to a field, as recorded.
public struct FieldEdit: Codable, Sendable, Equatable {
    public let value: FieldValue
    public let by: String
    public let role: Role
    public let at: Date
}

/// One field with its provenance: what the model generated, how sure it was, and the latest human edit.
public struct FieldRecord: Codable, Sendable, Equatable {
    public let generated: FieldValue
    public let confidence: Double?
    public let model: String
    public let edit: FieldEdit?

    /// The field's value now: the latest edit, else what the model generated.
    public var value: FieldValue { edit?.value ?? generated }
}

public struct DraftImage: Codable, Sendable, Equatable {
    public let position: Int
    public let key: ObjectKey
    public let width: Int
    public let height: Int
    public let contentType: String
    public let filename: String

    public init(position: Int, key: ObjectKey, width: Int, height: Int, contentType: String, filename: String) {
        (self.position, self.key, self.width, self.height, self.contentType, self.filename) = (position, key, width, height, contentType, filename)
    }
}

/// A draft as stored: the generated draft, its state, images and per-field provenance.
public struct DraftRecord: Sendable, Equatable {
    public let id: Int64
    public let userID: Int64
    public let artisanID: Int64
    public let artisan: String
    public let status: DraftStatus
    public let notes: String
    public let modelID: Int64?
    public let modelVersion: String
    /// The model's draft exactly as generated (`loupe describe --json`).
    public let generatedJSON: String
    public let needsReview: [String]
    public let minConfidence: Double
    public let createdAt: Date
    public let updatedAt: Date
    public let decidedBy: String?
    public let decidedAt: Date?
    public let rejectReason: String?
    public let productID: Int64?
    public let listingID: Int64?
    public var images: [DraftImage] = []
    public var fields: [DraftField: FieldRecord] = [:]
}

public struct NewDraft: Sendable {
    public var user: User
    public var notes: String
    public var modelID: Int64?
    public var modelVersion: String
    public var generatedJSON: String
    public var needsReview: [String]
    /// Field → (generated value, confidence).
    public var fields: [DraftField: (FieldValue, Double?)]
    public var inferenceMilliseconds: Double
    public var images: [DraftImage]

    public init(user: User, notes: String, modelID: Int64?, modelVersion: String, generatedJSON: String, needsReview: [String],
                fields: [DraftField: (FieldValue, Double?)], inferenceMilliseconds: Double, images: [DraftImage]) {
        (self.user, self.notes, self.modelID, self.modelVersion, self.generatedJSON) = (user, notes, modelID, modelVersion, generatedJSON)
        (self.needsReview, self.fields, self.inferenceMilliseconds, self.images) = (needsReview, fields, inferenceMilliseconds, images)
    }

    /// The lowest confidence among the claims (text fields carry none).
    var minConfidence: Double { fields.values.compactMap(\.1).min() ?? 1 }
}

public struct FeedbackRecord: Codable, Sendable, Equatable {
    public let id: Int64
    public let draftID: Int64
    public let rating: Int
    public let corrections: [DraftField: FieldValue]
    public let comment: String
    public let modelVersion: String
    public let createdAt: Date
    public let updatedAt: Date
}

public struct ListingRecord: Sendable, Equatable {
    public let id: Int64
    public let draftID: Int64
    public let productID: Int64
    public let artisan: String
    public let title: String
    public let description: String
    /// `{"category": {"value": …, "generated": …, "confidence": …, "model": …, "edit": …}, …}`
    public let fieldsJSON: String
    public let publishedBy: String
    public let publishedAt: Date
}

/// Why a draft operation was refused. The service maps each case to an HTTP status in one place.
public enum DraftError: Error, CustomStringConvertible, Equatable {
    case notFound(Int64)
    case illegalTransition(id: Int64, from: DraftStatus, action: String)
    case invalidField(DraftField, String)
    case artisanRequired
    case cannotPublish(Int64, String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let id): "draft \(id) not found"
        case .illegalTransition(let id, let from, let action): "draft \(id) is \(from.rawValue); it cannot be \(action)"
        case .invalidField(let field, let problem): "\(field.rawValue): \(problem)"
        case .artisanRequired: "only an artisan user can create drafts and give feedback"
        case .invalid(let problem): problem
        case .cannotPublish(let id, let problem): "draft \(id) cannot be published: \(problem); edit it first"
        }
    }
}

/// What a query may see: an artisan only their own drafts; moderators and admins all.
public struct DraftScope: Sendable {
    public let artisanID: Int64?
    public init(user: User) { artisanID = user.role == .artisan ? user.artisanID ?? -1 : nil }
    public static let everything = DraftScope(artisanID: nil)
    init(artisanID: Int64?) { self.artisanID = artisanID }
}

/// Drafts, their provenance, moderation, feedback and listings: plain SQL with bound parameters, every
/// multi-row change in one transaction, state changes under a row lock.
public struct DraftRepository: Sendable {
    public let client: PostgresClient
    public let taxonomy: Taxonomy

    public init(client: PostgresClient, taxonomy: Taxonomy = .standard) {
        (self.client, self.taxonomy) = (client, taxonomy)
    }

    // MARK: Create

    /// Writes the draft, its images, its provenance rows and a `created` event in one statement (so one
    /// transaction and one round trip: the inserts are data-modifying `WITH` parts), and returns the draft
    /// as written — what the database made (id, times, status, the artisan's handle, the generated JSON as
    /// stored) from the statement's own result, the rest from `new` — so the caller answers from what was
    /// committed, with no second read that could fail after the commit (a 503 for a draft that exists
    /// invites a duplicate). A test compares it with the draft read back. The photos must already be in
    /// the object store, so a draft row never exists without them.
    public func create(_ new: NewDraft, logger: Logger) async throws -> DraftRecord {
        guard new.user.role == .artisan, let artisanID = new.user.artisanID else { throw DraftError.artisanRequired }
        precondition(!new.images.isEmpty, "a draft needs at least one photo")
        let images = new.images.sorted { $0.position < $1.position }
        let positions = images.map(\.position), keys = images.map(\.key.hex)
        let widths = images.map(\.width), heights = images.map(\.height)
        let types = images.map(\.contentType), names = images.map(\.filename)
        let fields = DraftField.allCases.filter { new.fields[$0] != nil }
        let values = fields.map { new.fields[$0]!.0.json }, confidences = fields.map { new.fields[$0]!.1 ?? -1 }
        let rows = try await client.rows("""
            WITH d AS (
                INSERT INTO drafts (user_id, artisan_id, notes, model_id, model_version, generated, needs_review, min_confidence, inference_ms)
                VALUES (\(new.user.id), \(artisanID), \(new.notes), \(new.modelID), \(new.modelVersion), \(new.generatedJSON)::jsonb,
                        \(new.needsReview), \(new.minConfidence), \(new.inferenceMilliseconds))
                RETURNING id, artisan_id, status, generated::text AS generated, created_at, updated_at
            ), images AS (
                INSERT INTO draft_images (draft_id, position, object_key, width, height, content_type, filename)
                SELECT d.id, t.* FROM d, unnest(\(positions)::int[], \(keys)::text[], \(widths)::int[], \(heights)::int[], \(types)::text[], \(names)::text[]) AS t
            ), fields AS (
                INSERT INTO draft_fields (draft_id, field, generated_value, generated_confidence, model_version)
                -- -1 stands for "no confidence" (free text): postgres-nio binds no arrays of optionals
                SELECT d.id, f, v::jsonb, NULLIF(c, -1), \(new.modelVersion)
                FROM d, unnest(\(fields.map(\.rawValue))::text[], \(values)::text[], \(confidences)::float8[]) AS t(f, v, c)
            ), created AS (
                INSERT INTO draft_events (draft_id, user_id, action) SELECT d.id, \(new.user.id), 'created' FROM d
            )
            SELECT d.id, a.handle, d.status, d.generated, d.created_at, d.updated_at FROM d JOIN artisans a ON a.id = d.artisan_id
            """, logger: logger)
        guard let (id, handle, status, generated, createdAt, updatedAt) = try rows.decode((Int64, String, String, String, Date, Date).self).first
        else { preconditionFailure("an INSERT … RETURNING returned no row") }
        var record = DraftRecord(id: id, userID: new.user.id, artisanID: artisanID, artisan: handle,
                                 status: DraftStatus(rawValue: status) ?? .pending, notes: new.notes, modelID: new.modelID,
                                 modelVersion: new.modelVersion, generatedJSON: generated, needsReview: new.needsReview,
                                 minConfidence: new.minConfidence, createdAt: createdAt, updatedAt: updatedAt, decidedBy: nil, decidedAt: nil,
                                 rejectReason: nil, productID: nil, listingID: nil)
        record.images = images
        for field in fields {
            let (value, confidence) = new.fields[field]!
            record.fields[field] = FieldRecord(generated: value, confidence: confidence, model: new.modelVersion, edit: nil)
        }
        return record
    }

    // MARK: Read

    public func find(id: Int64, scope: DraftScope, logger: Logger) async throws -> DraftRecord {
        guard let record = try await load(where: "d.id = $1 AND ($2::bigint IS NULL OR d.artisan_id = $2)",
                                          binds: [.int(id), .optionalInt(scope.artisanID)], logger: logger).first
        else { throw DraftError.notFound(id) }
        return record
    }

    /// Newest first, optionally by status; keyset pagination with `before` (an id).
    public func list(status: DraftStatus?, scope: DraftScope, before: Int64?, limit: Int, logger: Logger) async throws -> [DraftRecord] {
        try await load(where: """
            ($1::text IS NULL OR d.status = $1) AND ($2::bigint IS NULL OR d.artisan_id = $2) AND ($3::bigint IS NULL OR d.id < $3)
            ORDER BY d.id DESC LIMIT $4
            """, binds: [.optionalText(status?.rawValue), .optionalInt(scope.artisanID), .optionalInt(before), .int(Int64(limit))], logger: logger)
    }

    public enum QueueOrder: String, Sendable, CaseIterable { case oldest, lowConfidence = "low-confidence" }

    /// Pending drafts: oldest first, or the least confident first (then oldest).
    public func queue(order: QueueOrder, limit: Int, logger: Logger) async throws -> [DraftRecord] {
        let orderBy = order == .oldest ? "d.created_at, d.id" : "d.min_confidence, d.created_at, d.id"
        return try await load(where: "d.status = 'pending' ORDER BY \(orderBy) LIMIT $1", binds: [.int(Int64(limit))], logger: logger)
    }

    enum Bind { case int(Int64), optionalInt(Int64?), optionalText(String?) }

    /// `load` on a connection leased from the pool for the four queries.
    private func load(where condition: String, binds: [Bind], logger: Logger) async throws -> [DraftRecord] {
        try await client.leasing { try await load(where: condition, binds: binds, on: $0, logger: logger) }
    }

    static func bindings(_ binds: [Bind]) -> PostgresBindings {
        var bindings = PostgresBindings()
        for bind in binds {
            switch bind {
            case .int(let v): bindings.append(v)
            case .optionalInt(let v): bindings.append(v)
            case .optionalText(let v): bindings.append(v)
            }
        }
        return bindings
    }

    /// Drafts matching a fixed SQL condition (written here, never from input) with bound values, plus
    /// their images, provenance and latest edits: four queries however many drafts, on `connection` (a
    /// transaction passes its own, so approving never holds one pooled connection while waiting for another).
    private func load(where condition: String, binds: [Bind], on connection: PostgresConnection, logger: Logger) async throws -> [DraftRecord] {
        let sql = """
            SELECT d.id, d.user_id, d.artisan_id, a.handle, d.status, d.notes, d.model_id, d.model_version, d.generated::text,
                   d.needs_review, d.min_confidence, d.created_at, d.updated_at, u.name, d.decided_at, d.reject_reason, d.product_id, l.id
            FROM drafts d JOIN artisans a ON a.id = d.artisan_id LEFT JOIN users u ON u.id = d.decided_by
            LEFT JOIN listings l ON l.draft_id = d.id
            WHERE \(condition)
            """
        var records: [DraftRecord] = []
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(binds)), logger: logger)
        for try await row in rows {
            let c = row.makeRandomAccess()
            records.append(DraftRecord(
                id: try c[0].decode(Int64.self), userID: try c[1].decode(Int64.self), artisanID: try c[2].decode(Int64.self),
                artisan: try c[3].decode(String.self), status: DraftStatus(rawValue: try c[4].decode(String.self)) ?? .pending,
                notes: try c[5].decode(String.self), modelID: try c[6].decode(Int64?.self), modelVersion: try c[7].decode(String.self),
                generatedJSON: try c[8].decode(String.self), needsReview: try c[9].decode([String].self),
                minConfidence: try c[10].decode(Double.self), createdAt: try c[11].decode(Date.self), updatedAt: try c[12].decode(Date.self),
                decidedBy: try c[13].decode(String?.self), decidedAt: try c[14].decode(Date?.self), rejectReason: try c[15].decode(String?.self),
                productID: try c[16].decode(Int64?.self), listingID: try c[17].decode(Int64?.self)))
        }
        guard !records.isEmpty else { return [] }
        let ids = records.map(\.id)
        var images: [Int64: [DraftImage]] = [:]
        let imageRows = try await connection.query("""
            SELECT draft_id, position, object_key, width, height, content_type, filename FROM draft_images
            WHERE draft_id = ANY(\(ids)) ORDER BY draft_id, position
            """, logger: logger)
        for try await (id, position, key, width, height, type, name) in imageRows.decode((Int64, Int, String, Int, Int, String, String).self) {
            guard let key = ObjectKey(key) else { continue }
            images[id, default: []].append(DraftImage(position: position, key: key, width: width, height: height, contentType: type, filename: name))
        }
        var edits: [Int64: [DraftField: FieldEdit]] = [:]
        let editRows = try await connection.query("""
            SELECT DISTINCT ON (e.draft_id, e.field) e.draft_id, e.field, e.value::text, u.name, u.role, e.created_at
            FROM draft_edits e JOIN users u ON u.id = e.editor_id
            WHERE e.draft_id = ANY(\(ids)) ORDER BY e.draft_id, e.field, e.id DESC
            """, logger: logger)
        for try await (id, field, value, name, role, at) in editRows.decode((Int64, String, String, String, String, Date).self) {
            guard let field = DraftField(rawValue: field) else { continue }
            edits[id, default: [:]][field] = FieldEdit(value: try FieldValue.parse(json: value), by: name, role: Role(rawValue: role) ?? .moderator, at: at)
        }
        var fields: [Int64: [DraftField: FieldRecord]] = [:]
        let fieldRows = try await connection.query("""
            SELECT draft_id, field, generated_value::text, generated_confidence, model_version FROM draft_fields WHERE draft_id = ANY(\(ids))
            """, logger: logger)
        for try await (id, field, value, confidence, model) in fieldRows.decode((Int64, String, String, Double?, String).self) {
            guard let field = DraftField(rawValue: field) else { continue }
            fields[id, default: [:]][field] = FieldRecord(generated: try FieldValue.parse(json: value), confidence: confidence, model: model,
                                                          edit: edits[id]?[field])
        }
        for i in records.indices {
            records[i].images = images[records[i].id] ?? []
            records[i].fields = fields[records[i].id] ?? [:]
        }
        return records
    }

    // MARK: Moderation

    /// Locks the draft's row for the rest of the transaction and returns its status; 404 outside `scope`.
    private func lock(_ id: Int64, scope: DraftScope, on tx: PostgresConnection, logger: Logger) async throws -> DraftStatus {
        let rows = try await tx.query("""
            SELECT status FROM drafts WHERE id = \(id) AND (\(scope.artisanID)::bigint IS NULL OR artisan_id = \(scope.artisanID)) FOR UPDATE
            """, logger: logger)
        // Drain the rows before the next query on this connection.
        var status: DraftStatus?
        for try await value in rows.decode(String.self) { status = DraftStatus(rawValue: value) ?? .pending }
        guard let status else { throw DraftError.notFound(id) }
        return status
    }

    /// A moderator's edit: each changed field becomes its own `draft_edits` row; the generated value stays.
    /// Returns the draft as read inside the transaction (see `create`).
    public func edit(id: Int64, changes: [DraftField: FieldValue], by user: User, logger: Logger) async throws -> DraftRecord {
        for (field, value) in changes {
            if let problem = FieldValue.problem(value, for: field, taxonomy: taxonomy) { throw DraftError.invalidField(field, problem) }
        }
        return try await client.transaction(logger: logger) { tx in
            let status = try await lock(id, scope: .everything, on: tx, logger: logger)
            guard status == .pending else { throw DraftError.illegalTransition(id: id, from: status, action: "edited") }
            let fields = changes.keys.sorted { $0.rawValue < $1.rawValue }
            let values = fields.map { Self.normalized(changes[$0]!).json }
            try await tx.query("""
                INSERT INTO draft_edits (draft_id, field, value, editor_id)
                SELECT \(id), f, v::jsonb, \(user.id) FROM unnest(\(fields.map(\.rawValue))::text[], \(values)::text[]) WITH ORDINALITY AS t(f, v, n) ORDER BY n
                """, logger: logger)
            let detail = #"{"fields": ["# + fields.map { "\"\($0.rawValue)\"" }.joined(separator: ",") + "]}"
            try await tx.query("""
                INSERT INTO draft_events (draft_id, user_id, action, detail) VALUES (\(id), \(user.id), 'edited', \(detail)::jsonb)
                """, logger: logger)
            try await tx.query("UPDATE drafts SET updated_at = now() WHERE id = \(id)", logger: logger)
            return try await reload(id, on: tx, logger: logger)
        }
    }

    /// The draft as this transaction sees it, for the answer to a write.
    private func reload(_ id: Int64, on tx: PostgresConnection, logger: Logger) async throws -> DraftRecord {
        guard let record = try await load(where: "d.id = $1", binds: [.int(id)], on: tx, logger: logger).first else {
            preconditionFailure("draft \(id) not visible inside the transaction that wrote it")
        }
        return record
    }

    static func normalized(_ value: FieldValue) -> FieldValue {
        switch value {
        case .text(let t): .text(t.trimmingCharacters(in: .whitespacesAndNewlines))
        case .list(let l): .list(l.sorted())
        }
    }

    /// Approves a pending draft and publishes it: a product (source `listing`) with the final attributes,
    /// its photos and — only when a moderator wrote it — the description as a reference text; and the
    /// listing with every field's provenance. All in one transaction. Returns the approved draft (its
    /// `listingID` set) as read inside it.
    public func approve(id: Int64, by user: User, logger: Logger) async throws -> DraftRecord {
        try await client.transaction(logger: logger) { tx in
            let status = try await lock(id, scope: .everything, on: tx, logger: logger)
            guard status == .pending else { throw DraftError.illegalTransition(id: id, from: status, action: "approved") }
            guard let draft = try await load(where: "d.id = $1", binds: [.int(id)], on: tx, logger: logger).first else { throw DraftError.notFound(id) }
            func value(_ field: DraftField) -> FieldValue { draft.fields[field]?.value ?? .text("") }
            let title = value(.title).text ?? "", description = value(.description).text ?? ""
            let gems = value(.gemstones).list ?? []
            let attributes = Attributes(category: value(.category).text ?? "", metal: value(.metal).text ?? "",
                                        gemstones: gems.isEmpty ? ["none"] : gems, style: value(.style).text ?? "", finish: value(.finish).text ?? "")
            let problems = taxonomy.validate(attributes)
            guard problems.isEmpty, !title.isEmpty, !description.isEmpty else {
                throw DraftError.cannotPublish(id, (problems + (title.isEmpty ? ["empty title"] : []) + (description.isEmpty ? ["empty description"] : [])).joined(separator: "; "))
            }
            let externalID = "listing-\(id)"
            let products = try await tx.query("""
                INSERT INTO products (external_id, artisan_id, title, split, taxonomy_version, source)
                VALUES (\(externalID), \(draft.artisanID), \(title), \(DatasetSplit.of(externalID: externalID).rawValue), \(taxonomy.version), 'listing')
                RETURNING id
                """, logger: logger)
            var productID: Int64 = 0
            for try await value in products.decode(Int64.self) { productID = value }
            var fieldNames = ["category", "metal", "style", "finish"], fieldValues = [attributes.category, attributes.metal, attributes.style, attributes.finish]
            for g in attributes.gemstones { fieldNames.append("gemstone"); fieldValues.append(g) }
            try await tx.query("""
                INSERT INTO product_attributes (product_id, field, value) SELECT \(productID), f, v FROM unnest(\(fieldNames)::text[], \(fieldValues)::text[]) AS t(f, v)
                """, logger: logger)
            if draft.fields[.description]?.edit != nil {
                try await tx.query("""
                    INSERT INTO product_descriptions (product_id, position, text, source) VALUES (\(productID), 0, \(description), 'moderator')
                    """, logger: logger)
            }
            let images = draft.images
            try await tx.query("""
                INSERT INTO product_images (product_id, position, object_key, sha256, width, height, source)
                SELECT \(productID), p, k, k, w, h, 'upload'
                FROM unnest(\(images.map(\.position))::int[], \(images.map(\.key.hex))::text[], \(images.map(\.width))::int[], \(images.map(\.height))::int[]) AS t(p, k, w, h)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            let fieldsJSON = String(decoding: try JSONEncoder.loupe.encode(draft.fields.mapValues(ListingField.init)), as: UTF8.self)
            let listings = try await tx.query("""
                INSERT INTO listings (draft_id, product_id, artisan_id, title, description, fields, published_by)
                VALUES (\(id), \(productID), \(draft.artisanID), \(title), \(description), \(fieldsJSON)::jsonb, \(user.id))
                RETURNING id
                """, logger: logger)
            var listingID: Int64 = 0
            for try await value in listings.decode(Int64.self) { listingID = value }
            try await tx.query("""
                UPDATE drafts SET status = 'approved', decided_by = \(user.id), decided_at = now(), updated_at = now(), product_id = \(productID)
                WHERE id = \(id)
                """, logger: logger)
            try await tx.query("""
                INSERT INTO draft_events (draft_id, user_id, action, detail) VALUES (\(id), \(user.id), 'approved', jsonb_build_object('listing', \(listingID)))
                """, logger: logger)
            return try await reload(id, on: tx, logger: logger)
        }
    }

    /// What a listing keeps of each field: the published value and where it came from.
    struct ListingField: Codable {
        let value: FieldValue
        let generated: FieldValue
        let confidence: Double?
        let model: String
        let edit: FieldEdit?
        init(_ record: FieldRecord) {
            (value, generated, confidence, model, edit) = (record.value, record.generated, record.confidence, record.model, record.edit)
        }
    }

    public func reject(id: Int64, reason: String, by user: User, logger: Logger) async throws -> DraftRecord {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw DraftError.invalid("a rejection needs a reason") }
        return try await client.transaction(logger: logger) { tx in
            let status = try await lock(id, scope: .everything, on: tx, logger: logger)
            guard status == .pending else { throw DraftError.illegalTransition(id: id, from: status, action: "rejected") }
            try await tx.query("""
                UPDATE drafts SET status = 'rejected', reject_reason = \(reason), decided_by = \(user.id), decided_at = now(), updated_at = now()
                WHERE id = \(id)
                """, logger: logger)
            try await tx.query("""
                INSERT INTO draft_events (draft_id, user_id, action, detail) VALUES (\(id), \(user.id), 'rejected', jsonb_build_object('reason', \(reason)))
                """, logger: logger)
            return try await reload(id, on: tx, logger: logger)
        }
    }

    // MARK: Feedback

    /// The artisan's rating and corrections. One row per artisan and draft: sending it again replaces it.
    /// Returns the stored feedback and whether this call created it.
    public func feedback(id: Int64, rating: Int, corrections: [DraftField: FieldValue], comment: String, by user: User,
                         logger: Logger) async throws -> (FeedbackRecord, created: Bool) {
        guard user.role == .artisan else { throw DraftError.artisanRequired }
        guard (1 ... 5).contains(rating) else { throw DraftError.invalid("rating must be an integer from 1 to 5") }
        for (field, value) in corrections {
            if let problem = FieldValue.problem(value, for: field, taxonomy: taxonomy) { throw DraftError.invalidField(field, problem) }
        }
        let correctionsJSON = String(decoding: try JSONEncoder.loupe.encode(corrections.mapValues(Self.normalized)), as: UTF8.self)
        return try await client.transaction(logger: logger) { tx in
            _ = try await lock(id, scope: DraftScope(user: user), on: tx, logger: logger)
            let rows = try await tx.query("""
                INSERT INTO draft_feedback (draft_id, user_id, rating, corrections, comment, model_version)
                SELECT \(id), \(user.id), \(rating), \(correctionsJSON)::jsonb, \(comment), model_version FROM drafts WHERE id = \(id)
                ON CONFLICT (draft_id, user_id) DO UPDATE
                    SET rating = EXCLUDED.rating, corrections = EXCLUDED.corrections, comment = EXCLUDED.comment, updated_at = now()
                RETURNING id, rating, corrections::text, comment, model_version, created_at, updated_at, (xmax = 0)
                """, logger: logger)
            var stored: (FeedbackRecord, Bool)?
            for try await (fid, rating, corrections, comment, model, created, updated, inserted) in rows.decode((Int64, Int, String, String, String, Date, Date, Bool).self) {
                let parsed = try JSONDecoder().decode([DraftField: FieldValue].self, from: Data(corrections.utf8))
                stored = (FeedbackRecord(id: fid, draftID: id, rating: rating, corrections: parsed, comment: comment, modelVersion: model,
                                         createdAt: created, updatedAt: updated), inserted)
            }
            guard let stored else { throw DraftError.notFound(id) }
            try await tx.query("""
                INSERT INTO draft_events (draft_id, user_id, action, detail) VALUES (\(id), \(user.id), 'feedback', jsonb_build_object('rating', \(rating)))
                """, logger: logger)
            return stored
        }
    }

    // MARK: Listings

    public func listings(before: Int64?, limit: Int, logger: Logger) async throws -> [ListingRecord] {
        try await listings(where: "($1::bigint IS NULL OR l.id < $1) ORDER BY l.id DESC LIMIT $2", binds: [.optionalInt(before), .int(Int64(limit))], logger: logger)
    }

    public func listing(id: Int64, logger: Logger) async throws -> ListingRecord? {
        try await listings(where: "l.id = $1", binds: [.int(id)], logger: logger).first
    }

    private func listings(where condition: String, binds: [Bind], logger: Logger) async throws -> [ListingRecord] {
        let sql = """
            SELECT l.id, l.draft_id, l.product_id, a.handle, l.title, l.description, l.fields::text, u.name, l.published_at
            FROM listings l JOIN artisans a ON a.id = l.artisan_id JOIN users u ON u.id = l.published_by
            WHERE \(condition)
            """
        var out: [ListingRecord] = []
        let rows = try await client.rows(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(binds)), logger: logger)
        for (id, draft, product, artisan, title, description, fields, by, at) in try rows.decode((Int64, Int64, Int64, String, String, String, String, String, Date).self) {
            out.append(ListingRecord(id: id, draftID: draft, productID: product, artisan: artisan, title: title, description: description,
                                     fieldsJSON: fields, publishedBy: by, publishedAt: at))
        }
        return out
    }

    // MARK: Housekeeping

    public func countsByStatus(logger: Logger) async throws -> [DraftStatus: Int] {
        var counts = Dictionary(uniqueKeysWithValues: DraftStatus.allCases.map { ($0, 0) })
        let rows = try await client.rows("SELECT status, count(*) FROM drafts GROUP BY status", logger: logger)
        for (status, count) in try rows.decode((String, Int).self) {
            if let s = DraftStatus(rawValue: status) { counts[s] = count }
        }
        return counts
    }

    /// Which of `keys` a draft, a product or a synthetic image still refers to (the object collector keeps those).
    public func referenced(_ keys: [ObjectKey], logger: Logger) async throws -> Set<ObjectKey> {
        let hex = keys.map(\.hex)
        let rows = try await client.rows("""
            SELECT object_key FROM draft_images WHERE object_key = ANY(\(hex))
            UNION SELECT object_key FROM product_images WHERE object_key = ANY(\(hex))
            UNION SELECT object_key FROM synthetic_images WHERE object_key = ANY(\(hex))
            """, logger: logger)
        var out = Set<ObjectKey>()
        for key in try rows.decode(String.self) { if let k = ObjectKey(key) { out.insert(k) } }
        return out
    }
}

extension JSONEncoder {
    /// Sorted keys and ISO 8601 dates: the one JSON style of the service and its stored documents.
    public static var loupe: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
