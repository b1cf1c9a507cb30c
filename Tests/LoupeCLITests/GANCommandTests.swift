import Foundation
import Imaging
import Store
import LoupeTestSupport
import Testing

/// `loupe train gan` and `loupe gan sample` as a user runs them (a tiny run on Fashion-MNIST).
@Suite struct GANCommandTests {
    @Test(.timeLimit(.minutes(8))) func trainsWritesSamplesAndGenerates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-gan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("g.pt").path
        let train = try await runProcess(loupeExecutable(), ["train", "gan", "--data", "fashion-mnist", "--limit", "128", "--epochs", "1", "--batch-size", "64",
                                  "--run", dir.appendingPathComponent("run").path, "--out", model, "--no-monitor", "--fid-every", "0"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("epoch 1/1"))
        #expect(try RGBImage(contentsOf: dir.appendingPathComponent("run/samples/epoch-001.png")).width == 8 * 34 + 2)
        let out = dir.appendingPathComponent("samples")
        let sample = try await runProcess(loupeExecutable(), ["gan", "sample", "--model", model, "--n", "5", "--out", out.path])
        #expect(sample.status == 0, "\(sample.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["grid.png", "sample-00000.png", "sample-00001.png", "sample-00002.png", "sample-00003.png", "sample-00004.png", "samples.tsv"])
        // An unconditional generator's samples.tsv names the files and no labels.
        let manifest = try String(contentsOf: out.appendingPathComponent("samples.tsv"), encoding: .utf8)
        #expect(manifest == "file\n" + (0 ..< 5).map { String(format: "sample-%05d.png\n", $0) }.joined(), "\(manifest)")
        let one = try RGBImage(contentsOf: out.appendingPathComponent("sample-00000.png"))
        #expect(one.width == 32 && one.height == 32)
        // FID against the test images, beside the train-vs-test floor (a tiny sample: the command runs).
        let eval = try await runProcess(loupeExecutable(), ["eval", "gan", "--model", model, "--samples", "4", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
        let fid = figures?["fid"] as? Double ?? -1, floor = figures?["real_vs_real"] as? Double ?? -1
        #expect(fid > floor && floor > 0, "\(eval.stdout)")
        let bad = try await runProcess(loupeExecutable(), ["gan", "sample", "--model", dir.appendingPathComponent("missing.pt").path, "--out", out.path])
        #expect(bad.status != 0)
        let tooFew = try await runProcess(loupeExecutable(), ["train", "gan", "--limit", "10", "--batch-size", "64"])
        #expect(tooFew.status != 0 && tooFew.stderr.contains("fewer than one batch"), "\(tooFew.stderr)")
    }

    /// The conditional catalogue GAN end to end: `train gan --data catalogue --condition category,metal`
    /// reads the products from PostgreSQL and the photos from the object store (64×64 colour), `gan
    /// sample --category --metal` writes PNGs, `eval gan` measures it against the catalogue's photos.
    @Test(.timeLimit(.minutes(8))) func conditionalCatalogueGAN() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-cgan-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let objects = dir.appendingPathComponent("objects")
            try await SyntheticCatalogue.load(into: db, objects: objects, artisan: "disc-maker", mislabelRoseGold: false)
            let url = ServeCommandTests.url(db), model = dir.appendingPathComponent("g.pt").path
            let train = try await runProcess(loupeExecutable(), [
                "train", "gan", "--data", "catalogue", "--condition", "category,metal", "--epochs", "2", "--batch-size", "8", "--ema", "0.9",
                "--lr-d", "1e-4", "--g-features", "32", "--d-features", "16", "--thin", "brooch=0", "--database-url", url, "--objects", objects.path, "--run", dir.appendingPathComponent("run").path, "--out", model, "--fid-every", "0"])
            #expect(train.status == 0, "\(train.stderr)")
            #expect(train.stdout.contains("30 catalogue images (64×64, conditioned on category and metal"), "\(train.stdout)")
            // The disc catalogue has no brooches: the thinning runs and leaves every image (the 30 above).
            #expect(train.stderr.contains("thinned brooch to 0 products: "), "\(train.stderr)")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("g.json"))) as? [String: Any]
            #expect((config?["conditions"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["category", "metal"])
            #expect(config?["generatorFeatures"] as? Int == 32 && config?["discriminatorFeatures"] as? Int == 16, "\(String(describing: config))")
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run/state.json"))) as? [String: Any]
            #expect((state?["options"] as? [String: Any])?["discriminatorLearningRate"] as? Double == 1e-4)
            let out = dir.appendingPathComponent("samples")
            let sample = try await runProcess(loupeExecutable(), ["gan", "sample", "--model", model, "--n", "3", "--category", "ring", "--metal", "rose-gold",
                                                                  "--out", out.path])
            #expect(sample.status == 0, "\(sample.stderr)")
            #expect(sample.stdout.contains("(category ring, metal rose-gold)"))
            let one = try RGBImage(contentsOf: out.appendingPathComponent("sample-00002.png"))
            #expect(one.width == 64 && one.height == 64)
            // samples.tsv: each file with the labels it was drawn for.
            let manifest = try String(contentsOf: out.appendingPathComponent("samples.tsv"), encoding: .utf8)
            #expect(manifest == "file\tcategory\tmetal\n" + (0 ..< 3).map { String(format: "sample-%05d.png\tring\trose-gold\n", $0) }.joined(), "\(manifest)")
            // The thinned-category experiment: a captioner trained on one ring plus the three generated rings
            // (labels only). The registry's training snapshot holds the real products and nothing else.
            let weights = CaptionerCommandTests.weights
            let captioner = try await runProcess(loupeExecutable(), [
                "train", "captioner", "--database-url", url, "--objects", objects.path, "--pretrained", weights, "--thin", "ring=1",
                "--synthetic", out.path, "--epochs", "1", "--views", "1", "--layers", "1", "--width", "32",
                "--run", dir.appendingPathComponent("captioner").path, "--out", dir.appendingPathComponent("captioner.pt").path, "--activate", "never"])
            #expect(captioner.status == 0, "\(captioner.stderr)")
            #expect(captioner.stdout.contains("thinned ring to 1 training products"), "\(captioner.stdout)")
            #expect(captioner.stdout.contains("added 3 synthetic images (labels only)"), "\(captioner.stdout)")
            let (rows, snapshot) = try await db.configuration.withConnection(logger: testLogger) { c in
                var out: (Int, String) = (0, "")
                for try await row in try await c.query("""
                    SELECT (SELECT count(*) FROM model_training_products)::int, (SELECT snapshot::text FROM models LIMIT 1)
                    """, logger: testLogger).decode((Int, String).self) { out = row }
                return out
            }
            let shown = try JSONSerialization.jsonObject(with: Data(snapshot.utf8)) as? [String: Any]
            #expect(shown?["synthetic"] as? Int == 3 && shown?["thinned"] as? String == "ring=1", "\(snapshot)")
            #expect(rows == (shown?["train"] as? Int ?? -1) + (shown?["validation"] as? Int ?? -1), "\(rows) \(snapshot)")
            let ringsOnly = try await runProcess(loupeExecutable(), ["eval", "captioner", "--model", dir.appendingPathComponent("captioner.pt").path,
                                                                     "--split", "validation", "--category", "ring", "--json", "--beam", "1",
                                                                     "--database-url", url, "--objects", objects.path])
            #expect(ringsOnly.status == 0, "\(ringsOnly.stderr)")
            let rings = (try JSONSerialization.jsonObject(with: Data(ringsOnly.stdout.utf8)) as? [String: Any])?["report"] as? [String: Any]
            #expect((rings?["examples"] as? Int ?? 0) > 0, "\(ringsOnly.stdout)")
            let badThin = try await runProcess(loupeExecutable(), ["train", "captioner", "--thin", "tiara=1", "--database-url", url])
            #expect(badThin.status != 0 && badThin.stderr.contains("unknown category \"tiara\""), "\(badThin.stderr)")
            let loneOversample = try await runProcess(loupeExecutable(), ["train", "captioner", "--oversample", "3", "--database-url", url])
            #expect(loneOversample.status != 0 && loneOversample.stderr.contains("--oversample N takes --thin"), "\(loneOversample.stderr)")
            let wrong = try await runProcess(loupeExecutable(), ["gan", "sample", "--model", model, "--metal", "gold", "--out", out.path])
            #expect(wrong.status != 0 && wrong.stderr.contains("unknown metal 'gold'"), "\(wrong.stderr)")
            let unconditioned = try await runProcess(loupeExecutable(), ["gan", "sample", "--model", model, "--style", "boho", "--out", out.path])
            #expect(unconditioned.status != 0 && unconditioned.stderr.contains("not conditioned on style"), "\(unconditioned.stderr)")
            let eval = try await runProcess(loupeExecutable(), ["eval", "gan", "--model", model, "--samples", "16", "--json", "--database-url", url,
                                                                "--objects", objects.path])
            #expect(eval.status == 0, "\(eval.stderr)")
            let figures = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
            #expect(figures?["samples"] as? Int == 16 && (figures?["fid"] as? Double ?? -1) > 0, "\(eval.stdout)")
            let bad = try await runProcess(loupeExecutable(), ["train", "gan", "--data", "catalogue", "--condition", "gemstone", "--database-url", url])
            #expect(bad.status != 0 && bad.stderr.contains("cannot condition on 'gemstone'"), "\(bad.stderr)")
        }
    }
}
