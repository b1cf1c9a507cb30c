import ArgumentParser
import Captioner
import Catalog
import Foundation
import Torch

struct FixturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixtures", abstract: "The rendered jewellery fixture catalogue.", subcommands: [Render.self, Scene.self, Ceiling.self])

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

    struct Ceiling: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What BLEU-4, ROUGE-L and CIDEr-D can reach on a grammar-written catalogue's references.",
            discussion: """
                Scores, against each product's references: one reference against the others; a fresh grammar \
                text from the true attributes; and the minimum-risk choice of --samples such texts. No model, \
                no database: the catalogue's catalogue.jsonl (products need their design).
                """)
        @Option(help: "Catalogue directory (catalogue.jsonl).") var catalogue = "Fixtures/catalogue"
        @Option(help: "train, validation, test or all.") var split = "test"
        @Option(help: "Grammar texts per product to choose from (and simulated references).") var samples = 32
        @Option var seed: UInt64 = 1
        @Flag(help: "Print the report as JSON.") var json = false

        func validate() throws {
            guard split == "all" || DatasetSplit(rawValue: split) != nil else {
                throw ValidationError("--split must be train, validation, test or all")
            }
            guard samples >= 1 else { throw ValidationError("--samples must be positive") }
        }

        func run() throws {
            let (records, errors) = try CatalogueFile.read(directory: URL(fileURLWithPath: catalogue))
            if let first = errors.first { throw ValidationError("\(catalogue)/catalogue.jsonl: \(first) (\(errors.count) bad lines)") }
            var products: [TextCeiling.Product] = []
            for (line, record) in records where split == "all" || DatasetSplit.of(externalID: record.externalID).rawValue == split {
                guard let design = record.design else {
                    throw ValidationError("line \(line): product \(record.externalID) has no design; the grammar needs one")
                }
                guard !record.descriptions.isEmpty else { throw ValidationError("line \(line): product \(record.externalID) has no descriptions") }
                products.append(.init(attributes: record.attributes, design: design, references: record.descriptions))
            }
            guard !products.isEmpty else { throw ValidationError("no \(split) products in \(catalogue)") }
            let report = TextCeiling(samples: samples).measure(products, seed: seed)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            print("\(report.products) \(split) products, \(report.samples) grammar texts each")
            print("| text | scored | BLEU-4 | ROUGE-L | CIDEr-D |\n| --- | --- | --- | --- | --- |")
            for row in report.rows {
                print(String(format: "| %@ | %d | %.3f | %.3f | %.3f |", row.text, row.count, row.bleu4, row.rougeL, row.ciderD))
            }
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
