import Foundation
import LoupeTestSupport
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
        let missing = try await runProcess(loupeExecutable(), ["sentiment", "--model", dir.appendingPathComponent("none.pt").path, "x"])
        #expect(missing.status != 0 && missing.stderr.contains("no sentiment model"), "\(missing.stderr)")
    }
}
