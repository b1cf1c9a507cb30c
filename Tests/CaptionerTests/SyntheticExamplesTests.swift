@testable import Captioner
import Catalog
import Foundation
import Imaging
import Testing
import Torch

/// Labels-only examples (generated images): a row without a label adds nothing to a loss, a row with
/// only a category adds to the category loss alone, and `SyntheticPhotoSource` reads `loupe gan sample`'s
/// directory with its labels, refusing a bad one with the line at fault.
@Suite struct SyntheticExamplesTests {
    static func unlabelled(category: String = "", metal: String = "") -> CaptionExample {
        CaptionExample(productID: -1, externalID: "synthetic:x.png", split: .train,
                       attributes: Attributes(category: category, metal: metal, gemstones: [], style: "", finish: ""),
                       title: "", descriptions: [], images: [])
    }

    @Test func unlabelledRowsAddNoLoss() throws {
        let (real, _) = TrainingTests.examples()
        let grounding = Grounding()
        var config = CaptionerConfig(vocabulary: Vocabulary.build(from: CaptionDataset.vocabularyTexts(real, grounding: grounding)), taxonomy: .standard)
        (config.imageSize, config.width, config.layers, config.heads, config.headHidden, config.dropout) = (64, 32, 1, 2, 32, 0)
        LibTorch.manualSeed(11)
        let model = try CaptionModel(config: config)
        model.store.eval()
        // Rows: two real products, one image with no label at all, one with only a category and metal.
        let dataset = CaptionDataset(examples: [real[0], real[4], Self.unlabelled(), Self.unlabelled(category: "bangle", metal: "rose-gold")],
                                     config: config, grounding: grounding)
        #expect(dataset.sequences[2] == [[config.vocabulary.bosID]])
        let encoded = try withNoGrad { try model.encode(Tensor.randn([4, 3, 64, 64])) }
        let cache = FeatureCache(grid: encoded.grid, pooled: encoded.pooled, views: 1)
        func loss(_ rows: [Int]) throws -> (caption: Double, attributes: Double) {
            let out = try withNoGrad {
                try model.forward(features: cache.batch(rows.map { (example: $0, view: 0) }),
                                  targets: .init(tokens: dataset.tokens(rows.map { (example: $0, reference: 0) }), attributes: dataset.attributeTargets(rows)),
                                  labelSmoothing: 0.1, attributeWeight: 1)
            }
            return (try out.captionLoss.item(), try out.attributeLoss.item())
        }
        let base = try loss([0, 1])
        let withUnlabelled = try loss([0, 1, 2])
        #expect(abs(withUnlabelled.caption - base.caption) < 1e-5 && abs(withUnlabelled.attributes - base.attributes) < 1e-5,
                "\(base) vs \(withUnlabelled)")
        let withCategory = try loss([0, 1, 3])
        #expect(abs(withCategory.caption - base.caption) < 1e-5)
        #expect(abs(withCategory.attributes - base.attributes) > 1e-3, "a labelled category and metal add to the attribute loss")
        // Nothing labelled at all: zero, not NaN (a batch drawn only from generated images).
        let none = try loss([2])
        #expect(none.caption == 0 && none.attributes == 0, "\(none)")
        // Category and metal only: exactly those two fields' cross-entropy (style, finish, stones ignored).
        let targets = try dataset.attributeTargets([3])
        #expect(try targets["style"]!.to(.float64).doubles() == [Double(CaptionDataset.unlabelled)])
        #expect(try targets["gemstone"]!.to(.float64).doubles().allSatisfy { $0 == -1 })
        let logits = try withNoGrad { try model.attributeLogits(cache.batch([(example: 3, view: 0)])) }
        let expected = try Functional.crossEntropy(logits["category"]!, target: targets["category"]!).item()
            + Functional.crossEntropy(logits["metal"]!, target: targets["metal"]!).item()
        #expect(abs(try loss([3]).attributes - expected) < 1e-5)
    }

    @Test func readsASampleDirectoryAndRefusesBadOnes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let red = syntheticPhoto(color: (200, 30, 30), radius: 10, size: 32), blue = syntheticPhoto(color: (30, 30, 200), radius: 10, size: 32)
        try ImageEncoder.writePNG(red.byteTensor(), to: dir.appendingPathComponent("sample-00000.png"))
        try ImageEncoder.writePNG(blue.byteTensor(), to: dir.appendingPathComponent("sample-00001.png"))
        func manifest(_ text: String) throws { try Data(text.utf8).write(to: dir.appendingPathComponent("samples.tsv")) }
        try manifest("file\tcategory\tmetal\nsample-00000.png\tbracelet\trose-gold\nsample-00001.png\tring\tplatinum\n")
        let source = try SyntheticPhotoSource(directory: dir, base: SyntheticPhotos(images: [:]))
        #expect(source.examples.map(\.attributes.category) == ["bracelet", "ring"])
        #expect(source.examples.map(\.attributes.metal) == ["rose-gold", "platinum"])
        #expect(source.examples.allSatisfy { $0.descriptions.isEmpty && $0.attributes.gemstones.isEmpty && $0.attributes.style.isEmpty && $0.productID < 0 })
        #expect(try source.photo(source.examples[1].images[0]).pixels == blue.pixels)

        func refusal(_ text: String) throws -> String {
            try manifest(text)
            do { _ = try SyntheticPhotoSource(directory: dir, base: SyntheticPhotos(images: [:])); return "" } catch let e as SyntheticImagesError { return e.description }
        }
        #expect(try refusal("file\tcategory\nsample-00000.png\tbracelet\nsample-00001.png\ttiara\n").contains("line 3: unknown category 'tiara'"))
        #expect(try refusal("file\tgemstone\nsample-00000.png\truby\n").contains("unknown column 'gemstone'"))
        #expect(try refusal("file\tcategory\nsample-00009.png\tring\n").contains("line 2: no PNG file 'sample-00009.png'"))
        #expect(try refusal("file\tcategory\nsample-00000.png\n").contains("line 2: 1 columns, the header has 2"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("samples.tsv"))
        #expect(throws: SyntheticImagesError.self) { try SyntheticPhotoSource(directory: dir, base: SyntheticPhotos(images: [:])) }
    }
}
