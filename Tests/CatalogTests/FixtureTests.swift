import Foundation
import Testing
@testable import Catalog
import Imaging

struct FixtureTests {
    /// A fast renderer of one product at a time (`size` px, no anti-aliasing) and a scratch directory.
    static func scratchRenderer(_ name: String, size: Int) throws -> (renderer: FixtureRenderer, root: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var options = FixtureRenderer.Options(count: 1, seed: 0)
        options.size = size
        options.antialias = 0
        return (FixtureRenderer(options: options), root)
    }

    @Test func specsAreDeterministicUnderASeed() {
        let a = FixtureSampler(seed: 7), b = FixtureSampler(seed: 7), c = FixtureSampler(seed: 8)
        for i in 0 ..< 50 {
            #expect(a.spec(i) == b.spec(i))
            #expect(SceneBuilder().scene(for: a.spec(i)) == SceneBuilder().scene(for: b.spec(i)))
        }
        #expect((0 ..< 50).map { a.spec($0) } != (0 ..< 50).map { c.spec($0) })
    }

    @Test func labelsAreValidAndTextsNameThem() {
        let sampler = FixtureSampler(seed: 3)
        let taxonomy = Taxonomy.standard
        var categories = Set<String>(), metals = Set<String>(), backgrounds = Set<String>()
        for i in 0 ..< 400 {
            let spec = sampler.spec(i)
            #expect(taxonomy.validate(spec.attributes).isEmpty, "\(spec.attributes)")
            categories.insert(spec.attributes.category)
            metals.insert(spec.attributes.metal)
            backgrounds.insert(spec.scene.background)
            #expect((3 ... 5).contains(spec.descriptions.count))
            let category = spec.attributes.category == "earrings" ? "earrings" : taxonomy.category.label(spec.attributes.category)!
            for text in spec.descriptions {
                let sentences = text.split(separator: ".").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                #expect((2 ... 4).contains(sentences.count), "\(text)")
                #expect(text.lowercased().contains(category), "\(text)")
                #expect(DescriptionGrammar.occasions.contains { text.contains($0) }, "no occasion in: \(text)")
                // No purity or karat claims the label cannot support.
                #expect(!text.contains("14k") && !text.contains("18k") && !text.contains("925"), "\(text)")
            }
            #expect(Set(spec.descriptions).count >= 2, "references should differ")
        }
        #expect(categories.count == 8)
        #expect(metals.count == 8)
        #expect(backgrounds == ["studio", "marble", "velvet", "wood", "linen"])
    }

    @Test func renderingIsDeterministicAndDecodes() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-render-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var options = FixtureRenderer.Options(count: 3, seed: 11)
        options.size = 64
        let first = try await FixtureRenderer(options: options).render(into: root.appendingPathComponent("a"))
        _ = try await FixtureRenderer(options: options).render(into: root.appendingPathComponent("b"))
        #expect(first.count == 3)
        for record in first {
            let a = try Data(contentsOf: root.appendingPathComponent("a/\(record.images[0])"))
            let b = try Data(contentsOf: root.appendingPathComponent("b/\(record.images[0])"))
            #expect(a == b, "\(record.externalID) rendered differently")
            let image = try RGBImage(decoding: a)
            #expect(image.width == 64 && image.height == 64 && image.info.format == .jpeg)
            // Not a blank frame: the piece and its shading show up as variation.
            let values = image.pixels.map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            let spread = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            #expect(spread > 5, "\(record.externalID) looks blank")
        }
        let (records, errors) = try CatalogueFile.read(directory: root.appendingPathComponent("a"))
        #expect(errors.isEmpty && records.map(\.record) == first)
    }

    /// A two-tone piece shows white metal on its body, not only on settings: the same stoneless band ring
    /// on the studio sweep, rendered in yellow gold and in two-tone, differs over a good share of its
    /// yellow pixels. Before the banded texture, two-tone painted white gold on settings alone, and a
    /// band without stones rendered exactly as yellow gold.
    @Test func twoTonePiecesShowBothMetals() async throws {
        let sampler = FixtureSampler(seed: 5)
        func isPlainStudioBand(_ spec: FixtureSpec) -> Bool {
            let a = spec.attributes
            return a.category == "ring" && spec.design == "band" && a.gemstones == ["none"] && spec.scene.background == "studio"
        }
        var spec = try #require((0 ..< 3000).lazy.map { sampler.spec($0) }.first(where: isPlainStudioBand))
        let (renderer, root) = try Self.scratchRenderer("two-tone", size: 96)
        defer { try? FileManager.default.removeItem(at: root) }
        /// Pixels of a clearly yellow hue (red and green well above blue), the yellow gold's body.
        func yellowPixels(_ metal: String) async throws -> Int {
            spec.attributes.metal = metal
            spec.externalID = "two-tone-test-\(metal)"
            try await renderer.renderOne(spec, builder: SceneBuilder(), images: root, scenes: root)
            let image = try RGBImage(contentsOf: root.appendingPathComponent("\(spec.externalID).jpg"))
            return stride(from: 0, to: image.pixels.count, by: 3).filter { i in
                let (r, g, b) = (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
                return r - b > 45 && g - b > 25
            }.count
        }
        let yellow = try await yellowPixels("yellow-gold"), twoTone = try await yellowPixels("two-tone")
        #expect(yellow > 300, "the yellow-gold ring covers \(yellow) yellow pixels")
        #expect(Double(twoTone) < 0.75 * Double(yellow) && Double(twoTone) > 0.2 * Double(yellow), "two-tone: \(twoTone) of \(yellow) yellow pixels")
    }

    /// Every piece whose label names a stone puts that stone in the scene. A bar necklace once rendered a
    /// plain bar under every stone label (113 of 3,130 products), and no photo could show it.
    @Test func everyLabelledStoneIsInTheScene() {
        let sampler = FixtureSampler(seed: 5)
        var designs = Set<String>()
        for i in 0 ..< 1500 {
            let spec = sampler.spec(i)
            guard spec.attributes.gemstones != ["none"] else { continue }
            designs.insert("\(spec.attributes.category)/\(spec.design)")
            let placesStone = SceneBuilder().scene(for: spec).contains("material { StoneMain }")
            #expect(placesStone, "\(spec.attributes.category)/\(spec.design): \(spec.attributes.gemstones)")
        }
        #expect(designs.count == 28, "stone-set designs seen: \(designs.count)")
    }

    @Test func everyCategoryDesignAndBackgroundRenders() async throws {
        // POV-Ray must parse every scene variant: find one product for each (category, design) and
        // each background, render them tiny.
        let sampler = FixtureSampler(seed: 5)
        var wanted = Set(FixtureSampler.designs.flatMap { c, ds in ds.map { "\(c)/\($0)" } })
        var backgrounds: Set<String> = ["studio", "marble", "velvet", "wood", "linen"]
        var specs: [FixtureSpec] = []
        for i in 0 ..< 3000 where !wanted.isEmpty || !backgrounds.isEmpty {
            let spec = sampler.spec(i)
            let key = "\(spec.attributes.category)/\(spec.design)"
            if wanted.remove(key) != nil || backgrounds.remove(spec.scene.background) != nil { specs.append(spec) }
        }
        #expect(wanted.isEmpty && backgrounds.isEmpty)
        let (renderer, root) = try Self.scratchRenderer("scenes", size: 24)
        defer { try? FileManager.default.removeItem(at: root) }
        for spec in specs {
            try await renderer.renderOne(spec, builder: SceneBuilder(), images: root, scenes: root)
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("\(spec.externalID).jpg").path), "\(spec.design)")
        }
    }
}

struct CommittedSampleTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/catalogue")

    @Test func committedSampleIsWhatTheGeneratorWrites() throws {
        let (records, errors) = try CatalogueFile.read(directory: Self.directory)
        #expect(errors.isEmpty)
        #expect(records.count == 1000)
        let sampler = FixtureSampler(seed: 2026)
        for i in [0, 1, 7, 500, 999] {
            let spec = sampler.spec(i)
            let record = records[i].record
            #expect(record.externalID == spec.externalID && record.attributes == spec.attributes)
            #expect(record.descriptions == spec.descriptions && record.title == spec.title)
            let image = try RGBImage(contentsOf: Self.directory.appendingPathComponent(record.images[0]))
            #expect(image.width >= 256 && image.height >= 256)
        }
    }
}
