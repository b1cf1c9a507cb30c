import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Imaging
import Logging
import Store
import Synthesis
import Torch

/// One generated picture before it is stored.
public struct SynthesizedImage: Sendable {
    public let png: Data
    public let width: Int, height: Int
    /// The label of every condition the generator was given or drew (`metal` → `rose-gold`).
    public let conditions: [String: String]
}

/// Labels → images. The service depends on this protocol; tests may substitute one.
public protocol ImageSynthesizer: Sendable {
    var version: String { get }
    /// The generator's conditions, by name, with their labels.
    var conditions: [GANCondition] { get }
    func generate(count: Int, fixing: [String: String]) async throws -> [SynthesizedImage]
}

/// A trained (conditional) DCGAN served from one serial queue, as the captioner is: libtorch modules
/// are not safe to share between threads.
public final class GANServer: ImageSynthesizer, @unchecked Sendable {
    private let queue = DispatchQueue(label: "loupe.gan")
    private let generator: Generator  // used on `queue` only
    public let version: String
    public let conditions: [GANCondition]

    public init(contentsOf url: URL) throws {
        generator = try Generator(contentsOf: url)
        (version, conditions) = (generator.config.version, generator.config.conditions)
    }

    public func generate(count: Int, fixing fixed: [String: String]) async throws -> [SynthesizedImage] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[SynthesizedImage], any Error>) in
            queue.async { [self] in
                continuation.resume(with: Result {
                    let (images, labels) = try generator.sample(count: count, fixing: fixed)  // (N, C, S, S) in [−1, 1], (N, F)
                    let rows = try labels.map { try $0.ints() } ?? []
                    let side = generator.config.imageSize, fields = conditions.count
                    return try (0 ..< count).map { i in
                        var named: [String: String] = [:]
                        for (f, condition) in conditions.enumerated() { named[condition.name] = condition.labels[rows[i * fields + f]] }
                        let png = try ImageEncoder.png(images.select(dim: 0, index: i), range: -1 ... 1)
                        return SynthesizedImage(png: png, width: side, height: side, conditions: named)
                    }
                })
            }
        }
    }
}

/// `POST /v1/synthetic-images` {category, metal, n} (moderators and admins): draws n images from the
/// conditional GAN, stores them as `synthetic` images — never as a product's photos — and answers 201
/// with their rows. `GET /v1/synthetic-images/{id}` and `/{id}/image` (the PNG) read them back.
struct SyntheticImageController: Sendable {
    let synthesizer: (any ImageSynthesizer)?
    let images: SyntheticImageRepository
    let objects: DirectoryObjectStore
    let maxCount: Int

    struct CreateRequest: Decodable {
        var category: String?
        var metal: String?
        var style: String?
        var finish: String?
        var n: Int?
    }

    func addRoutes(to router: Router<LoupeRequestContext>) {
        let group = router.group("v1/synthetic-images")
        group.post(use: create)
        group.get(":id", use: get)
        group.get(":id/image", use: image)
    }

    @Sendable func create(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        let user = try context.requireModerator()
        let body = try await DraftController.json(CreateRequest.self, request, context: context)
        let n = body.n ?? 1
        guard (1 ... maxCount).contains(n) else { throw APIError.unprocessable("invalid_field", "n must be 1–\(maxCount)") }
        var fixed: [String: String] = [:]
        for (name, value) in [("category", body.category), ("metal", body.metal), ("style", body.style), ("finish", body.finish)] {
            guard let value else { continue }
            guard let field = Taxonomy.standard[name], let slug = field.values.first(where: { $0.slug == value || $0.label == value })?.slug else {
                let known = Taxonomy.standard[name]?.slugs.joined(separator: ", ") ?? ""
                throw APIError.unprocessable("invalid_field", "unknown \(name) '\(value)' (one of: \(known))")
            }
            fixed[name] = slug
        }
        guard let synthesizer else {
            throw APIError(.serviceUnavailable, "model_unavailable", "no synthetic-image generator is configured (loupe serve --gan-model FILE)")
        }
        let generated: [SynthesizedImage]
        do {
            generated = try await synthesizer.generate(count: n, fixing: fixed)
        } catch let error as GANSamplingError {
            throw APIError.unprocessable("invalid_field", error.description)
        }
        // Objects first, rows in one transaction after: a failure leaves only unreferenced objects, which the
        // collector deletes after its grace period.
        var stored: [(key: ObjectKey, width: Int, height: Int, conditions: [String: String])] = []
        for image in generated { stored.append((try await objects.put(image.png), image.width, image.height, image.conditions)) }
        let rows = try await images.insert(NewSyntheticImages(modelVersion: synthesizer.version, images: stored, requestedBy: user.id),
                                           logger: context.logger)
        context.logger.info("synthetic images generated", metadata: ["count": "\(rows.count)", "model": "\(synthesizer.version)",
                                                                     "labels": "\(fixed)", "by": "\(user.name)"])
        let batch = SyntheticImageBatch(model: synthesizer.version, images: rows.map(SyntheticImageView.init))
        return try batch.response(from: request, context: context, status: .created, location: nil)
    }

    @Sendable func get(_ request: Request, context: LoupeRequestContext) async throws -> SyntheticImageView {
        _ = try context.requireModerator()
        return SyntheticImageView(try await find(context))
    }

    @Sendable func image(_ request: Request, context: LoupeRequestContext) async throws -> Response {
        _ = try context.requireModerator()
        let row = try await find(context)
        let data = try await objects.get(row.key)
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=86400", .eTag: "\"\(row.key.hex)\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func find(_ context: LoupeRequestContext) async throws -> SyntheticImage {
        guard let id = context.parameters.get("id", as: Int64.self) else { throw APIError.notFound("no such synthetic image") }
        guard let row = try await images.find(id, logger: context.logger) else { throw APIError.notFound("no synthetic image \(id)") }
        return row
    }
}

struct SyntheticImageView: Codable, Sendable, ResponseEncodable {
    let id: Int64
    let url: String
    let source: String
    let category: String?
    let metal: String?
    let conditions: [String: String]
    let model: String
    let width: Int
    let height: Int
    let sha256: String
    let createdAt: Date

    init(_ row: SyntheticImage) {
        (id, url, source, conditions, model) = (row.id, "/v1/synthetic-images/\(row.id)/image", row.source, row.conditions, row.modelVersion)
        (category, metal, width, height, sha256, createdAt) = (row.conditions["category"], row.conditions["metal"], row.width, row.height,
                                                               row.key.hex, row.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, url, source, category, metal, conditions, model, width, height, sha256
        case createdAt = "created_at"
    }
}

struct SyntheticImageBatch: Codable, Sendable, ResponseEncodable {
    let model: String
    let images: [SyntheticImageView]
}
