import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Imaging
import LoupeTestSupport
import NIOCore
import PostgresNIO
import Service
import Store
import Synthesis
import Testing
import Torch

/// A small (untrained) conditional generator on category and metal at 64×64, written once per process:
/// the endpoint's mechanics do not depend on what it draws.
enum TinyGAN {
    static let file: URL = {
        let url = TinyModels.directory.appendingPathComponent("tiny-gan.pt")
        var config = DCGANConfig()
        (config.imageSize, config.channels, config.generatorFeatures, config.discriminatorFeatures) = (64, 3, 8, 8)
        config.conditions = try! GANImageSet.conditions(fields: ["category", "metal"])
        config.version = "cdcgan-tiny"
        let generator = try! Generator(config: config)
        try! Checkpoint.save(generator.store, config: config, to: url)
        return url
    }()
}

/// `POST /v1/synthetic-images` and the reads behind it, against a real PostgreSQL.
@Suite(.serialized) struct SyntheticImageTests {
    @Test func moderatorsGenerateStoredSyntheticImages() async throws {
        try await withService(configure: { $0.ganModel = TinyGAN.file.path; $0.maxSyntheticImages = 6 }) { client, harness in
            let products = try await harness.count("product_images")
            let body = ByteBuffer(string: #"{"category": "ring", "metal": "rose-gold", "n": 3}"#)
            let r = try await client.execute(uri: "/v1/synthetic-images", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")), body: body)
            #expect(r.status == .created, "\(String(buffer: r.body))")
            let batch = try json(r)
            #expect(batch["model"] as? String == "cdcgan-tiny")
            let images = batch["images"] as? [[String: Any]] ?? []
            #expect(images.count == 3)
            for image in images {
                #expect(image["source"] as? String == "synthetic")
                #expect(image["category"] as? String == "ring" && image["metal"] as? String == "rose-gold")
                #expect((image["conditions"] as? [String: String]) == ["category": "ring", "metal": "rose-gold"])
            }
            // The rows: three synthetic images of rose-gold rings by the moderator, one batch; no product photo.
            #expect(try await harness.db.scalar("""
                SELECT count(*)::bigint FROM synthetic_images s JOIN users u ON u.id = s.requested_by
                WHERE s.category = 'ring' AND s.metal = 'rose-gold' AND s.source = 'synthetic' AND u.name = 'mona' AND s.model_version = 'cdcgan-tiny'
                """) == 3)
            #expect(try await harness.db.scalar("SELECT count(DISTINCT batch)::bigint FROM synthetic_images") == 1)
            #expect(try await harness.count("product_images") == products)
            // The PNG behind the first one decodes to 64×64 and is the stored object.
            let id = images.first?["id"] as? Int ?? -1
            let png = try await client.execute(uri: "/v1/synthetic-images/\(id)/image", method: .get, headers: harness.bearer("mona"))
            #expect(png.status == .ok && png.headers[.contentType] == "image/png")
            let decoded = try RGBImage(decoding: Data(png.body.readableBytesView))
            #expect(decoded.width == 64 && decoded.height == 64)
            #expect(sha256Hex(Data(png.body.readableBytesView)) == images.first?["sha256"] as? String)
            let one = try await client.execute(uri: "/v1/synthetic-images/\(id)", method: .get, headers: harness.bearer("root"))
            let record = try json(one)
            #expect(one.status == .ok && record["url"] as? String == "/v1/synthetic-images/\(id)/image")
            // Left out, the metal is drawn, and each image records the one it got.
            let open = try await client.execute(uri: "/v1/synthetic-images", method: .post, headers: headers(jsonHeaders, harness.bearer("root")),
                                                body: ByteBuffer(string: #"{"category": "bangle", "n": 6}"#))
            #expect(open.status == .created)
            let metals = (try json(open)["images"] as? [[String: Any]] ?? []).compactMap { $0["metal"] as? String }
            #expect(metals.count == 6 && metals.allSatisfy { Taxonomy.standard.metal.contains($0) })
            // The collector keeps synthetic images' objects.
            #expect(harness.objectFiles().count >= 3)
            let store = try DirectoryObjectStore(root: harness.objects)
            let drafts = DraftRepository(client: PostgresClient(configuration: harness.db.configuration.clientConfiguration(maximumConnections: 1)))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await drafts.client.run() }
                try await drafts.client.waitUntilRunning(logger: testLogger)
                let collector = ObjectCollector(store: store, drafts: drafts, gracePeriod: .seconds(1), interval: .seconds(60), logger: testLogger)
                #expect(try await collector.collect(now: Date().addingTimeInterval(7200)).isEmpty)
                group.cancelAll()
            }
        }
    }

    @Test func badRequestsWriteNothing() async throws {
        try await withService(configure: { $0.ganModel = TinyGAN.file.path }) { client, harness in
            func post(_ body: String, as user: String = "mona", contentType: HTTPFields = jsonHeaders) async throws -> TestResponse {
                try await client.execute(uri: "/v1/synthetic-images", method: .post, headers: headers(contentType, harness.bearer(user)),
                                         body: ByteBuffer(string: body))
            }
            #expect(try await post(#"{"category": "ring", "n": 1}"#, as: "ada").status == .forbidden)
            let noAuth = try await client.execute(uri: "/v1/synthetic-images", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}"))
            #expect(noAuth.status == .unauthorized)
            for (body, code) in [(#"{"metal": "gold"}"#, "invalid_field"), (#"{"category": "ring", "n": 0}"#, "invalid_field"),
                                 (#"{"n": 17}"#, "invalid_field"), (#"{"style": "boho"}"#, "invalid_field")] {
                let r = try await post(body)
                #expect(r.status == .unprocessableContent && errorCode(r) == code, "\(body): \(String(buffer: r.body))")
            }
            #expect(try await post(#"{"category": "#).status == .badRequest)
            #expect(try await post(#"{"n": 1}"#, contentType: [.contentType: "text/plain"]).status == .unsupportedMediaType)
            #expect(try await client.execute(uri: "/v1/synthetic-images/999", method: .get, headers: harness.bearer("mona")).status == .notFound)
            #expect(try await harness.count("synthetic_images") == 0)
            #expect(harness.objectFiles().isEmpty)
        }
        // Without a generator the endpoint is unavailable, not broken.
        try await withService { client, harness in
            let r = try await client.execute(uri: "/v1/synthetic-images", method: .post, headers: headers(jsonHeaders, harness.bearer("mona")),
                                             body: ByteBuffer(string: #"{"n": 1}"#))
            #expect(r.status == .serviceUnavailable && errorCode(r) == "model_unavailable")
        }
    }
}
