import Foundation
import Imaging
import Torch

/// Renders a fixture catalogue with POV-Ray (Debian `povray`): one scene per product, rendered in
/// parallel (one single-threaded POV-Ray process per core), converted to JPEG, and listed in
/// `catalogue.jsonl`. Deterministic under a seed: the same seed writes the same scenes, and POV-Ray
/// renders them without jitter, so the same pixels.
public struct FixtureRenderer: Sendable {
    public struct Options: Sendable {
        public var count: Int
        public var seed: UInt64
        public var size = 256
        public var jpegQuality = 88
        public var parallelism = ProcessInfo.processInfo.activeProcessorCount
        public var antialias = 0.3
        public var keepScenes = false
        public var povray = "/usr/bin/povray"
        public init(count: Int, seed: UInt64) { (self.count, self.seed) = (count, seed) }
    }

    public let options: Options
    public init(options: Options) { self.options = options }

    public struct RenderError: Error, CustomStringConvertible {
        public let product: String
        public let message: String
        public var description: String { "render \(product): \(message)" }
    }

    /// Renders every product into `directory`; `progress` is called after each product (done, total).
    /// Products whose image already exists are not rendered again, so an interrupted run resumes.
    public func render(into directory: URL, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> [CatalogueRecord] {
        guard FileManager.default.isExecutableFile(atPath: options.povray) else {
            throw RenderError(product: "-", message: "POV-Ray not found at \(options.povray) (install Debian's povray: make deps)")
        }
        let images = directory.appendingPathComponent("images"), scenes = directory.appendingPathComponent("scenes")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: scenes, withIntermediateDirectories: true)
        let sampler = FixtureSampler(seed: options.seed)
        let builder = SceneBuilder()
        let specs = (0 ..< options.count).map { sampler.spec($0) }
        let done = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func launch() {
                let spec = specs[next]
                next += 1
                group.addTask {
                    try await renderOne(spec, builder: builder, images: images, scenes: scenes)
                    progress(done.increment(), specs.count)
                }
            }
            for _ in 0 ..< min(max(1, options.parallelism), specs.count) { launch() }
            while try await group.next() != nil {
                if next < specs.count { launch() }
            }
        }
        if !options.keepScenes { try? FileManager.default.removeItem(at: scenes) }
        let records = specs.map { spec in
            CatalogueRecord(externalID: spec.externalID, artisan: spec.artisan, title: spec.title, attributes: spec.attributes,
                            descriptions: spec.descriptions, images: ["images/\(spec.externalID).jpg"], design: spec.design)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let lines = try records.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: directory.appendingPathComponent("catalogue.jsonl"))
        return records
    }

    func renderOne(_ spec: FixtureSpec, builder: SceneBuilder, images: URL, scenes: URL) async throws {
        let jpeg = images.appendingPathComponent("\(spec.externalID).jpg")
        if FileManager.default.fileExists(atPath: jpeg.path) { return }
        let scene = scenes.appendingPathComponent("\(spec.externalID).pov")
        let png = scenes.appendingPathComponent("\(spec.externalID).png")
        try builder.scene(for: spec).write(to: scene, atomically: true, encoding: .utf8)
        let arguments = ["+I\(scene.path)", "+O\(png.path)", "+W\(options.size)", "+H\(options.size)", "+FN8",
                         "+A\(options.antialias)", "+AM2", "+R2", "-J", "+Q9", "-D", "-V", "-GA", "+WT1"]
        let status = try await run(options.povray, arguments)
        guard status == 0, let data = FileManager.default.contents(atPath: png.path) else {
            throw RenderError(product: spec.externalID, message: "povray exited with \(status); scene kept at \(scene.path)")
        }
        let image = try RGBImage(decoding: data)
        try AtomicFile.write(ImageEncoder.jpeg(image.byteTensor(), quality: options.jpegQuality), to: jpeg)
        try? FileManager.default.removeItem(at: png)
        if !options.keepScenes { try? FileManager.default.removeItem(at: scene) }
    }

    /// Runs a process without blocking a concurrency thread; returns its exit status.
    func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
    }
}

/// A thread-safe counter for progress reporting.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}
