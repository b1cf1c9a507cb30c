import Captioner
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Imaging
import Logging
import Metrics
import NIOCore
import Store

/// The JSON API for drafts, moderation, feedback and listings.
struct DraftController: Sendable {
    let drafts: any DraftStore
    let objects: any ObjectStore
    let generator: any DraftGenerator
    let limits: DraftUpload.Limits
    /// Checked after each approval and feedback: queues a retraining when enough have arrived.
    var retrainTrigger: RetrainTrigger? = nil
    let created = Counter(label: "loupe_drafts_created_total")

    func addRoutes(to router: Router<LoupeRequestContext>) {
        let v1 = router.group("v1")
        v1.post("drafts", use: createDraft)
        v1.get("drafts", use: listDrafts)
        v1.get("drafts/:id", use: getDraft)
        v1.get("drafts/:id/images/:position", use: getImage)
        v1.post("drafts/:id/approve", use: approve)
        v1.post("drafts/:id/edit", use: edit)
        v1.post("drafts/:id/reject", use: reject)
        v1.post("drafts/:id/feedback", use: feedback)
        v1.get("moderation/queue", use: queue)
        v1.get("listings", use: listListings)
        v1.get("listings/:id", use: getListing)
    }

    // MARK: Drafts

    /// Upload → decode → model → photos into the object store → one transaction for the rows. Nothing
    /// is written before the photos decode and the model has answered; if the transaction fails, the
    /// stored photos are unreferenced and the object collector deletes them after its grace period.
    @Sendable func createDraft(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let record = try await createDraft(request, user: try context.requireArtisan(), logger: context.logger)
        return try DraftView(record).response(from: request, context: context, status: .created, location: "/v1/drafts/\(record.id)")
    }

    /// Upload → decode → model → stored draft (the API and the artisan page both come here).
    /// Logs where an upload's time went: reading and decoding it (`read_ms`), waiting for its batch
    /// (`queue_ms`: the time to the model's answer less the batch's own drafting), the batch
    /// (`inference_ms`), and storing photos and rows (`store_ms`).
    func createDraft(_ request: Request, user: User, logger: Logger) async throws -> DraftRecord {
        let clock = ContinuousClock(), start = clock.now
        let upload = try await DraftUpload.read(request, limits: limits, reducedTo: generator.inputSide)
        let read = clock.now
        let generated = try await generator.generate(upload.photos.map(\.image))
        let answered = clock.now
        let record = try await store(upload, generated: generated, user: user, logger: logger)
        created.increment()
        let queue = max(0, (answered - read).milliseconds - generated.milliseconds)
        logger.info("draft created", metadata: [
            "draft": "\(record.id)", "photos": "\(upload.photos.count)", "model": "\(generated.model.version)",
            "batch": "\(generated.batch)", "read_ms": "\(Int((read - start).milliseconds))", "queue_ms": "\(Int(queue))",
            "inference_ms": "\(Int(generated.milliseconds))", "store_ms": "\(Int((clock.now - answered).milliseconds))",
        ])
        return record
    }

    func store(_ upload: DraftUpload, generated: GeneratedDraft, user: User, logger: Logger) async throws -> DraftRecord {
        var images: [DraftImage] = []
        for (i, photo) in upload.photos.enumerated() {
            let key = try await objects.put(photo.data)
            images.append(DraftImage(position: i, key: key, width: photo.image.info.width, height: photo.image.info.height,
                                     contentType: photo.contentType, filename: photo.filename))
        }
        let d = generated.draft
        let gems = d.attributes.gemstones
        let fields: [DraftField: (FieldValue, Double?)] = [
            .title: (.text(d.title), nil), .description: (.text(d.description), nil),
            .category: (.text(d.category.value), d.category.confidence), .metal: (.text(d.attributes.metal.value), d.attributes.metal.confidence),
            // The listed stones (never empty from a gemstone head: `gemstoneSet`) and the lowest confidence.
            .gemstones: (.list(gems.map(\.value).sorted()), gems.map(\.confidence).min()),
            .style: (.text(d.attributes.style.value), d.attributes.style.confidence),
            .finish: (.text(d.attributes.finish.value), d.attributes.finish.confidence),
        ]
        let json = String(decoding: try JSONEncoder.loupe.encode(d), as: UTF8.self)
        let new = NewDraft(user: user, notes: upload.notes, modelID: generated.model.id, modelVersion: d.model, generatedJSON: json,
                           needsReview: d.needsReview, fields: fields, inferenceMilliseconds: generated.milliseconds, images: images)
        return try await drafts.create(new, logger: logger)
    }

    @Sendable func getDraft(_ request: Request, context: LoupeRequestContext) async throws -> DraftView {
        let user = try context.requireUser()
        return DraftView(try await drafts.find(id: try Self.id(context), scope: DraftScope(user: user), logger: context.logger))
    }

    @Sendable func listDrafts(_ request: Request, context: LoupeRequestContext) async throws -> DraftList {
        let user = try context.requireUser()
        let status = try Self.status(request)
        let limit = try Self.limit(request)
        let before = try Self.int64(request, "before")
        let records = try await drafts.list(status: status, scope: DraftScope(user: user), before: before, limit: limit, logger: context.logger)
        return DraftList(drafts: records.map(DraftView.init), next: records.count == limit ? records.last?.id : nil)
    }

    @Sendable func getImage(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let record = try await drafts.find(id: try Self.id(context), scope: DraftScope(user: user), logger: context.logger)
        guard let position = context.parameters.get("position", as: Int.self),
              let image = record.images.first(where: { $0.position == position })
        else { throw APIError.notFound("draft \(record.id) has no image at that position") }
        let data = try await objects.get(image.key)
        return Response(status: .ok, headers: [.contentType: image.contentType, .cacheControl: "private, max-age=86400", .eTag: "\"\(image.key.hex)\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Moderation

    @Sendable func queue(_ request: Request, context: LoupeRequestContext) async throws -> DraftList {
        _ = try context.requireModerator()
        let orderText = request.uri.queryParameters["order"].map(String.init) ?? "oldest"
        guard let order = DraftRepository.QueueOrder(rawValue: orderText) else {
            throw APIError.badRequest("order must be one of: \(DraftRepository.QueueOrder.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let records = try await drafts.queue(order: order, limit: try Self.limit(request), logger: context.logger)
        return DraftList(drafts: records.map(DraftView.init), next: nil)
    }

    @Sendable func approve(_ request: Request, context: LoupeRequestContext) async throws -> DraftView {
        let user = try context.requireModerator()
        let id = try Self.id(context)
        let approved = try await drafts.approve(id: id, by: user, logger: context.logger)
        context.logger.info("draft approved", metadata: ["draft": "\(id)", "listing": "\(approved.listingID.map(String.init) ?? "none")"])
        await checkRetrainTrigger(logger: context.logger)
        return DraftView(approved)
    }

    @Sendable func edit(_ request: Request, context: LoupeRequestContext) async throws -> DraftView {
        let user = try context.requireModerator()
        let id = try Self.id(context)
        let changes = try await Self.json(FieldChanges.self, request, context: context)
        guard !changes.values.isEmpty else { throw APIError.unprocessable("invalid_field", "the edit changes no field") }
        let edited = try await drafts.edit(id: id, changes: changes.values, by: user, logger: context.logger)
        context.logger.info("draft edited", metadata: ["draft": "\(id)", "fields": "\(changes.values.keys.map(\.rawValue).sorted())"])
        return DraftView(edited)
    }

    @Sendable func reject(_ request: Request, context: LoupeRequestContext) async throws -> DraftView {
        let user = try context.requireModerator()
        let id = try Self.id(context)
        let body = try await Self.json(RejectRequest.self, request, context: context)
        guard !body.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.unprocessable("invalid_field", "a rejection needs a reason")
        }
        let rejected = try await drafts.reject(id: id, reason: body.reason, by: user, logger: context.logger)
        context.logger.info("draft rejected", metadata: ["draft": "\(id)"])
        return DraftView(rejected)
    }

    // MARK: Feedback

    @Sendable func feedback(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireArtisan()
        let id = try Self.id(context)
        let body = try await Self.json(FeedbackRequest.self, request, context: context)
        let (record, created) = try await drafts.feedback(id: id, rating: body.rating, corrections: body.corrections?.values ?? [:],
                                                          comment: body.comment ?? "", by: user, logger: context.logger)
        await checkRetrainTrigger(logger: context.logger)
        return try FeedbackView(record).response(from: request, context: context, status: created ? .created : .ok, location: nil)
    }

    /// The approval or feedback is already committed: a failure to queue is logged, not the request's.
    func checkRetrainTrigger(logger: Logger) async {
        guard let retrainTrigger else { return }
        do {
            try await retrainTrigger.check(logger: logger)
        } catch {
            logger.warning("cannot check the retraining trigger", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    // MARK: Listings (public: a published listing is public)

    @Sendable func listListings(_ request: Request, context: LoupeRequestContext) async throws -> ListingList {
        let limit = try Self.limit(request)
        let records = try await drafts.listings(before: try Self.int64(request, "before"), limit: limit, logger: context.logger)
        return ListingList(listings: try records.map(ListingView.init), next: records.count == limit ? records.last?.id : nil)
    }

    @Sendable func getListing(_ request: Request, context: LoupeRequestContext) async throws -> ListingView {
        let id = try Self.id(context)
        guard let record = try await drafts.listing(id: id, logger: context.logger) else { throw APIError.notFound("listing \(id) not found") }
        return try ListingView(record)
    }

    // MARK: Parameters

    static func id(_ context: LoupeRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError.notFound("no such id: \(context.parameters.get("id") ?? "")")
        }
        return id
    }

    static func status(_ request: Request) throws -> DraftStatus? {
        guard let text = request.uri.queryParameters["status"] else { return nil }
        guard let status = DraftStatus(rawValue: String(text)) else {
            throw APIError.badRequest("status must be one of: \(DraftStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return status
    }

    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters["limit"] else { return 50 }
        guard let n = Int(text), (1 ... 200).contains(n) else { throw APIError.badRequest("limit must be an integer from 1 to 200") }
        return n
    }

    static func int64(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters[name[...]] else { return nil }
        guard let n = Int64(text) else { throw APIError.badRequest("\(name) must be an integer") }
        return n
    }

    /// A JSON body of type `T`: 415 for another content type, 400 for malformed JSON (with where it is wrong).
    static func json<T: Decodable>(_ type: T.Type, _ request: Request, context: LoupeRequestContext) async throws -> T {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send application/json (got \(contentType.isEmpty ? "no Content-Type" : contentType))")
        }
        let buffer = try await request.body.collect(upTo: 1024 * 1024)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("empty body: expected a JSON object") }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }
}

extension ResponseEncodable {
    /// The encoded body with a chosen status and an optional Location header.
    func response(from request: Request, context: LoupeRequestContext, status: HTTPResponse.Status, location: String?) throws -> Response {
        var response = try context.responseEncoder.encode(self, from: request, context: context)
        response.status = status
        if let location { response.headers[.location] = location }
        return response
    }
}
