import Foundation
import Imaging
import Logging
import PostgresNIO
import Store
import Testing

/// `loupe train captioner`, `describe` and `eval captioner` as a user runs them, against a fresh database
/// holding the committed fixture catalogue.
@Suite(.serialized) struct CaptionerCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let weights = root.appendingPathComponent(".cache/models/efficientnet-lite0/efficientnet-lite0-57934424.pth").path

    @Test func trainsRegistersDescribesAndEvaluates() async throws {
        let logger = Logger(label: "loupe.cli-tests")
        let adminURL = ProcessInfo.processInfo.environment["LOUPE_TEST_DATABASE_URL"] ?? "postgres://loupe@127.0.0.1:54329/loupe_test"
        let admin = try DatabaseConfiguration(url: adminURL)
        let name = "loupe_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin.withConnection(logger: logger) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger) }
        let database = admin.with(database: name)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-cli-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: work)
        }
        do {
            let url = String(adminURL[..<adminURL.lastIndex(of: "/")!]) + "/" + name
            let objects = work.appendingPathComponent("objects").path
            #expect(try runLoupe(["migrate", "--database-url", url, "--migrations", Self.root.appendingPathComponent("Migrations").path]).status == 0)
            let imported = try runLoupe(["catalog", "import", Self.root.appendingPathComponent("Fixtures/catalogue").path,
                                         "--database-url", url, "--objects", objects])
            #expect(imported.status == 0, "\(imported.stderr)")

            let model = work.appendingPathComponent("model.pt").path
            let train = try runLoupe(["train", "captioner", "--database-url", url, "--objects", objects, "--pretrained", Self.weights,
                                      "--limit", "16", "--epochs", "2", "--views", "1", "--layers", "1", "--width", "64",
                                      "--brightness", "0.1", "--contrast", "0.05", "--saturation", "0",
                                      "--run", work.appendingPathComponent("run").path, "--out", model])
            #expect(train.status == 0, "\(train.stderr)")
            #expect(train.stderr.contains("epoch 2/2"))
            #expect(train.stdout.contains("(active)"))
            #expect(FileManager.default.fileExists(atPath: work.appendingPathComponent("run/loss.png").path))
            // The colour-jitter options reach the run's saved options (the rest of the augmentation unchanged).
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("run/state.json"))) as! [String: Any]
            let augmentation = (state["options"] as! [String: Any])["augmentation"] as! [String: Any]
            #expect(augmentation["brightness"] as? Double == 0.1 && augmentation["contrast"] as? Double == 0.05)
            #expect(augmentation["saturation"] as? Double == 0 && augmentation["maxRotation"] as? Double == 15)

            let badJitter = try runLoupe(["train", "captioner", "--database-url", url, "--brightness", "1.5"])
            #expect(badJitter.status != 0 && badJitter.stderr.contains("--brightness takes x in [0, 1)"), "\(badJitter.stderr)")

            // The registry row and the training snapshot it points to.
            let (models, snapshot, path) = try await database.withConnection(logger: logger) { c in
                var row: (Int, Int, String) = (0, 0, "")
                for try await (m, s, p) in try await c.query("""
                    SELECT (SELECT count(*) FROM models WHERE kind = 'captioner' AND status = 'active')::int,
                           (SELECT count(*) FROM model_training_products)::int, (SELECT path FROM models LIMIT 1)
                    """, logger: logger).decode((Int, Int, String).self) { row = (m, s, p) }
                return row
            }
            #expect(models == 1)
            #expect(snapshot == 16 + 8)  // --limit 16 training products and max(8, 16 / 8) validation products
            #expect(path == model)

            // One good photo, one that is not an image: a draft for the first, an error for the second, exit 1.
            let bad = work.appendingPathComponent("notes.jpg")
            try Data("not a photo".utf8).write(to: bad)
            let good = Self.root.appendingPathComponent("Fixtures/catalogue/images/fx-2026-000003.jpg").path
            let described = try runLoupe(["describe", good, bad.path, "--model", model, "--json", "--beam", "2"])
            #expect(described.status == 1)
            #expect(described.stderr.contains("notes.jpg"))
            let lines = described.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let draft = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
            for key in ["title", "description", "category", "attributes", "needs_review", "model"] { #expect(draft[key] != nil, "\(key)") }
            let attributes = draft["attributes"] as! [String: Any]
            for key in ["metal", "gemstones", "style", "finish"] { #expect(attributes[key] != nil, "\(key)") }
            // Two epochs on 16 products cannot be sure of the metal: the claim is withheld and flagged.
            let metal = attributes["metal"] as! [String: Any]
            if (metal["confidence"] as! Double) < 0.9 { #expect((draft["needs_review"] as! [String]).contains("metal")) }

            let negative = try runLoupe(["describe", good, "--model", model, "--length-penalty=-1"])
            #expect(negative.status != 0 && negative.stderr.contains("--length-penalty must be a number ≥ 0"), "\(negative.stderr)")

            // A 1024×1024 JPEG is decoded reduced (1/4, 256 px) unless --full-decode asks for every pixel.
            let large = work.appendingPathComponent("large.jpg")
            let pixels = try RGBImage(contentsOf: URL(fileURLWithPath: good)).tensor()
            try ImageEncoder.jpeg(Transforms.resize(pixels, height: 1024, width: 1024), quality: 90).write(to: large)
            var confidences: [Double] = []
            for extra in [[], ["--full-decode"]] {
                let run = try runLoupe(["describe", large.path, "--model", model, "--json", "--beam", "1"] + extra)
                #expect(run.status == 0, "\(extra): \(run.stderr)")
                let draft = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                confidences.append(((draft?["category"] as? [String: Any])?["confidence"] as? Double) ?? -1)
            }
            #expect(confidences.allSatisfy { $0 > 0 } && abs(confidences[0] - confidences[1]) > 1e-6, "\(confidences)")

            let evaluated = try runLoupe(["eval", "captioner", "--model", model, "--split", "test", "--limit", "3", "--json",
                                          "--database-url", url, "--objects", objects, "--beam", "1"])
            #expect(evaluated.status == 0, "\(evaluated.stderr)")
            let report = (try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any])["report"] as! [String: Any]
            #expect((report["bleu"] as! [Double]).count == 4)
            #expect((report["lengthRatio"] as? Double).map { $0 >= 0 } == true, "\(report)")  // 0 when two epochs draft nothing
            #expect(report["examples"] as? Int == 3)
            #expect(report["groundingViolations"] as? Int == 0)
            #expect((report["accuracy"] as! [String: Double]).keys.sorted() == ["category", "finish", "gemstone", "metal", "style"])
        }
        _ = try? await admin.withConnection(logger: logger) {
            try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}
