import Captioner
import Catalog
import Foundation
import Testing

struct FixturesCeilingCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func scoresTheCommittedCatalogueSplit() throws {
        let catalogue = Self.root.appendingPathComponent("Fixtures/catalogue")
        let result = try runLoupe(["fixtures", "ceiling", "--catalogue", catalogue.path, "--split", "test", "--samples", "8", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(TextCeiling.Report.self, from: Data(result.stdout.utf8))
        let (records, _) = try CatalogueFile.read(directory: catalogue)
        let test = records.filter { DatasetSplit.of(externalID: $0.record.externalID) == .test }
        #expect(report.products == test.count && report.samples == 8)
        #expect(report.rows.map(\.count) == [test.map(\.record.descriptions.count).reduce(0, +), test.count, test.count])
        for row in report.rows { #expect(row.rougeL > 0.3 && row.rougeL < 1 && row.bleu4 > 0.3 && row.bleu4 < 1, "\(row)") }
    }

    @Test func refusesACatalogueWithoutDesigns() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-ceiling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let line = #"{"external_id": "x-1", "artisan": "a", "title": "Ring", "attributes": {"category": "ring", "metal": "brass", "gemstones": ["none"], "style": "boho", "finish": "matte"}, "descriptions": ["A ring."], "images": []}"#
        try Data((line + "\n").utf8).write(to: work.appendingPathComponent("catalogue.jsonl"))
        let result = try runLoupe(["fixtures", "ceiling", "--catalogue", work.path, "--split", "all"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("line 1: product x-1 has no design"), "\(result.stderr)")
    }
}
