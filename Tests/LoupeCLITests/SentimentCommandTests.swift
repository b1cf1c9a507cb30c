import Foundation
import LoupeTestSupport
import Store
import Testing

/// `loupe train sentiment`, `loupe sentiment` and `loupe eval sentiment` as a user runs them.
@Suite struct SentimentCommandTests {
    @Test(.timeLimit(.minutes(8))) func trainsClassifiesAndEvaluates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-sentiment-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = repositoryRoot.appendingPathComponent(".cache/data/reviews").path
        let nb = dir.appendingPathComponent("nb.nbsvm.json").path
        let train = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "nbsvm", "--data", data, "--out", nb])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("test accuracy") && train.stdout.contains("(308 sentences)"), "\(train.stdout)")
        // --also adds other corpora's train and validation sentences (tweets 3,432 and news 2,970 labelled, less their tests).
        let mixed = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "nbsvm", "--also", "tweets",
                                                             "--also", "news", "--data", data, "--out", dir.appendingPathComponent("mixed.nbsvm.json").path])
        let count = mixed.stdout.firstMatch(of: /NB-SVM on (\d+) sentences/).map { Int($0.1)! } ?? 0
        #expect(mixed.status == 0 && mixed.stdout.contains("sentiment-product+tweets+news-nbsvm") && count > 2677 + 5400 && count < 2677 + 6401,
                "\(mixed.stdout) \(mixed.stderr)")
        #expect(train.stdout.contains("NB-SVM on 2677 sentences"), "\(train.stdout)")
        let twice = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--also", "product", "--data", data])
        #expect(twice.status != 0 && twice.stderr.contains("--also names --corpus"), "\(twice.stderr)")
        let classify = try await runProcess(loupeExecutable(), ["sentiment", "--model", nb, "Terrible quality, it broke after one day. Do not buy.",
                                                               "Gorgeous, well made and exactly as pictured. Love it!"])
        #expect(classify.status == 0, "\(classify.stderr)")
        let lines = classify.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        #expect(lines.map { $0?["prediction"] as? String } == ["negative", "positive"], "\(classify.stdout)")
        #expect(lines.allSatisfy { ($0?["confidence"] as? Double).map { $0 > 0.5 && $0 <= 1 } ?? false })
        // From standard input, one text per line.
        let piped = try shell("printf 'awful quality\\nlovely ring\\n' | \(loupeExecutable().path) sentiment --model \(nb)")
        #expect(piped.status == 0 && piped.stdout.split(separator: "\n").count == 2, "\(piped.stdout)")
        let eval = try await runProcess(loupeExecutable(), ["eval", "sentiment", "--model", nb, "--corpus", "product", "--data", data, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
        #expect(figures?["count"] as? Int == 308 && (figures?["accuracy"] as? Double ?? 0) > 0.7, "\(eval.stdout)")
        // The small transformer: one short epoch writes a model that classifies.
        let scratch = dir.appendingPathComponent("scratch.pt").path
        let small = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "scratch", "--limit", "64",
                                                             "--epochs", "1", "--data", data, "--run", dir.appendingPathComponent("run").path,
                                                             "--out", scratch])
        #expect(small.status == 0, "\(small.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/accuracy.png").path))
        let one = try await runProcess(loupeExecutable(), ["sentiment", "--model", scratch, "fine"])
        #expect(one.status == 0 && one.stdout.contains("\"prediction\""), "\(one.stderr)")
        // Fine-tuning goes on from a trained model with --init-from (the product model starts from the movie one).
        let continued = dir.appendingPathComponent("continued.pt").path
        let more = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "scratch", "--limit", "64",
                                                            "--epochs", "1", "--data", data, "--run", dir.appendingPathComponent("run2").path,
                                                            "--init-from", scratch, "--soft-labels", "1.5", "--out", continued])
        #expect(more.status == 0, "\(more.stderr)")
        // The soft-label scale is part of the run: state.json records it, so --resume cannot mix two recipes.
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run2/state.json"))) as? [String: Any]
        #expect((state?["options"] as? [String: Any])?["softLabelScale"] as? Double == 1.5, "\(String(describing: state))")
        for (flags, message) in [(["--model", "nbsvm", "--soft-labels", "1.5"], "NB-SVM learns from the labels' signs"),
                                 (["--model", "scratch", "--soft-labels", "0"], "--soft-labels must be a positive number")] {
            let out = dir.appendingPathComponent("refused.pt").path
            let refused = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--data", data, "--out", out] + flags)
            #expect(refused.status != 0 && refused.stderr.contains(message) && !FileManager.default.fileExists(atPath: out), "\(refused.stderr)")
        }
        let first = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.replacingOccurrences(of: ".pt", with: ".json")))) as? [String: Any]
        let second = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: continued.replacingOccurrences(of: ".pt", with: ".json")))) as? [String: Any]
        #expect(second?["startedFrom"] as? String == first?["version"] as? String && first?["version"] != nil, "\(String(describing: second))")
        // --neutral adds the 723 neutral-band product sentences to the training set, and only with soft labels.
        let withNeutral = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "scratch", "--limit", "64",
                                                                   "--epochs", "1", "--data", data, "--run", dir.appendingPathComponent("run3").path,
                                                                   "--soft-labels", "1.5", "--neutral", "--out", dir.appendingPathComponent("neutral.pt").path])
        #expect(withNeutral.status == 0 && withNeutral.stdout.contains("on 787 product sentences"), "\(withNeutral.stdout) \(withNeutral.stderr)")
        let hardNeutral = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--neutral", "--data", data])
        #expect(hardNeutral.status != 0 && hardNeutral.stderr.contains("--neutral needs --soft-labels"), "\(hardNeutral.stderr)")
        let wrongKind = try await runProcess(loupeExecutable(), ["train", "sentiment", "--model", "minilm", "--data", data, "--init-from", scratch])
        #expect(wrongKind.status != 0 && wrongKind.stderr.contains("is a scratch model, not minilm"), "\(wrongKind.stderr)")
        let timed = try await runProcess(loupeExecutable(), ["eval", "sentiment", "--model", scratch, "--corpus", "product", "--data", data, "--json"])
        let timing = try JSONSerialization.jsonObject(with: Data(timed.stdout.utf8)) as? [String: Any]
        #expect(timed.status == 0 && (timing?["ms_per_review"] as? Double ?? 0) > 0 && (timing?["ms_per_review_arrival_order"] as? Double ?? 0) > 0,
                "\(timed.stdout) \(timed.stderr)")
        let missing = try await runProcess(loupeExecutable(), ["sentiment", "--model", dir.appendingPathComponent("none.pt").path, "x"])
        #expect(missing.status != 0 && missing.stderr.contains("no sentiment model"), "\(missing.stderr)")
    }

    /// `loupe train sentiment-mlm` continues MiniLM on masked review texts and writes a model that
    /// `train sentiment --init-from` fine-tunes; it reports the masked-token loss before and after.
    @Test(.timeLimit(.minutes(8))) func pretrainsWithMaskedLanguageModelling() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-sentiment-mlm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = repositoryRoot.appendingPathComponent(".cache/data/reviews").path
        let mlm = dir.appendingPathComponent("mlm.pt").path
        let pretrain = try await runProcess(loupeExecutable(), ["train", "sentiment-mlm", "--corpus", "product", "--limit", "64", "--epochs", "1",
                                                                "--data", data, "--run", dir.appendingPathComponent("run").path, "--out", mlm])
        #expect(pretrain.status == 0, "\(pretrain.stderr)")
        #expect(pretrain.stdout.contains("on 64 product texts, validating on 267"), "\(pretrain.stdout)")
        #expect(pretrain.stderr.contains("before: validation masked-token loss") && pretrain.stderr.contains("mlm epoch 1/1"), "\(pretrain.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/mlm-loss.png").path))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mlm.replacingOccurrences(of: ".pt", with: ".json")))) as? [String: Any]
        let version = config?["version"] as? String ?? ""
        #expect(version.hasPrefix("sentiment-mlm-product-") && config?["initialisation"] as? String == "minilm", "\(String(describing: config))")
        let tuned = dir.appendingPathComponent("tuned.pt").path
        let fineTune = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "minilm", "--limit", "64",
                                                                "--epochs", "1", "--data", data, "--run", dir.appendingPathComponent("run2").path,
                                                                "--init-from", mlm, "--out", tuned])
        #expect(fineTune.status == 0 && fineTune.stdout.contains("test accuracy"), "\(fineTune.stderr)")
        let tunedConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tuned.replacingOccurrences(of: ".pt", with: ".json")))) as? [String: Any]
        #expect(tunedConfig?["startedFrom"] as? String == version, "\(String(describing: tunedConfig))")
        let refused = try await runProcess(loupeExecutable(), ["train", "sentiment-mlm", "--mask-fraction", "1", "--data", data])
        #expect(refused.status != 0 && refused.stderr.contains("--mask-fraction must be between 0 and 1"), "\(refused.stderr)")
    }

    /// `loupe reviews import`: good rows are scored and stored, bad ones reported by line and skipped.
    @Test(.timeLimit(.minutes(8))) func importsReviews() async throws {
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-reviews-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            _ = try await db.scalar("INSERT INTO artisans (handle, display_name) VALUES ('anna', 'Anna') RETURNING id")
            for external in ["p-1", "p-2"] {
                _ = try await db.scalar("""
                    INSERT INTO products (external_id, artisan_id, title, split, taxonomy_version)
                    SELECT '\(external)', id, 'A piece', 'train', 1 FROM artisans WHERE handle = 'anna' RETURNING id
                    """)
            }
            let nb = dir.appendingPathComponent("nb.nbsvm.json").path
            let train = try await runProcess(loupeExecutable(), ["train", "sentiment", "--corpus", "product", "--model", "nbsvm", "--data",
                                                                 repositoryRoot.appendingPathComponent(".cache/data/reviews").path, "--out", nb])
            #expect(train.status == 0, "\(train.stderr)")
            let csv = dir.appendingPathComponent("reviews.csv")
            try Data("""
                product,rating,text,time
                p-1,5,"Great quality, works perfectly. Highly recommend!",2026-10-01
                p-1,1,"Terrible quality, it broke after one day. Do not buy.",2026-11-12
                p-2,4,Nice,
                p-9,5,unknown product,2026-10-01
                p-2,8,too many stars,2026-10-01

                """.utf8).write(to: csv)
            let url = ServeCommandTests.url(db)
            let run = try await runProcess(loupeExecutable(), ["reviews", "import", csv.path, "--model", nb, "--database-url", url])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("imported 3 reviews, skipped 2"), "\(run.stdout)")
            #expect(run.stderr.contains("line 5: unknown product 'p-9'") && run.stderr.contains("line 6: rating '8' is not 1–5"), "\(run.stderr)")
            #expect(try await db.scalar("SELECT count(*)::bigint FROM reviews WHERE source = 'import'") == 3)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM reviews WHERE rating = 1 AND sentiment = 'negative'") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM reviews WHERE rating = 5 AND sentiment = 'positive'") == 1)
            #expect(try await db.scalar("SELECT count(*)::bigint FROM review_aspects a JOIN reviews r ON r.id = a.review_id WHERE r.rating = 1 AND a.aspect = 'quality'") == 1)
            let bad = try await runProcess(loupeExecutable(), ["reviews", "import", csv.path, "--model", dir.appendingPathComponent("none.pt").path,
                                                               "--database-url", url])
            #expect(bad.status != 0 && bad.stderr.contains("no sentiment model"))
        }
    }
}
