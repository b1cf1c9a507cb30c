import ArgumentParser
import Catalog
import Foundation
import Torch

struct FixturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixtures", abstract: "The rendered jewellery fixture catalogue.", subcommands: [Render.self, Scene.self])

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a catalogue with POV-Ray: images/ and catalogue.jsonl in --out.")

        @Option(help: "Number of products.") var count: Int
        @Option(help: "Seed: the same seed renders the same catalogue.") var seed: UInt64 = 1
        @Option(help: "Output directory.") var out: String
        @Option(help: "Image side in pixels (at least 256 for training data).") var size = 256
        @Option(help: "Parallel POV-Ray processes (default: every core).") var jobs: Int?
        @Flag(help: "Keep the .pov scene files.") var keepScenes = false

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be positive") }
            guard size >= 32 else { throw ValidationError("--size must be at least 32") }
        }

        func run() async throws {
            var options = FixtureRenderer.Options(count: count, seed: seed)
            options.size = size
            options.keepScenes = keepScenes
            if let jobs { options.parallelism = jobs }
            let start = Date()
            let progress = ProgressBar(label: "rendering", start: start)
            let records = try await FixtureRenderer(options: options).render(into: URL(fileURLWithPath: out)) { done, total in
                progress.update(done, total)
            }
            progress.finish()
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "rendered %d products into %@ in %.0f s", records.count, out, seconds))
        }
    }

    struct Scene: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one product's spec and POV-Ray scene.")
        @Option var seed: UInt64 = 1
        @Option var index: Int = 0
        func run() throws {
            let spec = FixtureSampler(seed: seed).spec(index)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print("// " + String(decoding: try encoder.encode(spec), as: UTF8.self).replacingOccurrences(of: "\n", with: "\n// "))
            print(SceneBuilder().scene(for: spec))
        }
    }
}

/// A one-line progress bar on standard error: count, percentage, rate and ETA.
final class ProgressBar: @unchecked Sendable {
    let label: String, start: Date
    private let lock = NSLock()
    init(label: String, start: Date = Date()) { (self.label, self.start) = (label, start) }

    func update(_ done: Int, _ total: Int) {
        lock.lock(); defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? width * done / total : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r%@ [%@] %d/%d %5.1f%% %.2f/s ETA %@", label, bar, done, total,
                          100 * Double(done) / Double(max(total, 1)), rate, formatDuration(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }

}
