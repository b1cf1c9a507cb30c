import Catalog
import Foundation
import Imaging
import LoupeTestSupport
import Testing
import Torch
@testable import Store

struct ImportTests {
    /// A catalogue directory with three good products and one bad line of each kind.
    func makeCatalogue() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        for (i, value) in [0.2, 0.5, 0.8].enumerated() {
            try ImageEncoder.png(Tensor.full([3, 8, 12], value)).write(to: dir.appendingPathComponent("images/p\(i).png"))
        }
        let png = try ImageEncoder.png(Tensor.full([3, 8, 8], 0.3))
        try png.prefix(png.count / 2).write(to: dir.appendingPathComponent("images/truncated.png"))
        func line(_ id: String, metal: String = "rose-gold", stones: [String] = ["diamond"], images: [String]) -> String {
            let record = CatalogueRecord(externalID: id, artisan: "maker-\(id.count)", title: "Title \(id)",
                                         attributes: Attributes(category: "ring", metal: metal, gemstones: stones, style: "classic", finish: "polished"),
                                         descriptions: ["A ring in \(metal).", "Another text."], images: images)
            return String(decoding: try! JSONEncoder().encode(record), as: UTF8.self)
        }
        let lines = [
            line("p0", images: ["images/p0.png"]),
            line("bad-metal", metal: "18k-gold", images: ["images/p0.png"]),          // line 2
            line("p1", stones: ["ruby", "diamond"], images: ["images/p1.png", "images/p0.png"]),
            "{ this is not json",                                                        // line 4
            line("no-image", images: ["images/missing.jpg"]),                            // line 5
            "",
            line("truncated", images: ["images/truncated.png"]),                         // line 7
            line("escape", images: ["../../etc/passwd"]),                                // line 8
            line("p2", stones: ["none"], images: ["images/p2.png"]),
            line("p0", images: ["images/p0.png"]),                                       // line 10: duplicate
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("catalogue.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func importsGoodRowsReportsBadOnesAndIsIdempotent() async throws {
        let catalogue = try makeCatalogue()
        let objects = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-objects-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: catalogue)
            try? FileManager.default.removeItem(at: objects)
        }
        try await TestDatabase.with { db in
            try await db.migrateProject()
            var importer = CatalogImporter(store: try DirectoryObjectStore(root: objects))
            importer.batchSize = 2
            let report = try await db.configuration.withConnection(logger: testLogger) {
                try await importer.importDirectory(catalogue, connection: $0, logger: testLogger)
            }
            #expect(report.imported == 3)
            #expect(report.failures.map(\.line) == [2, 4, 5, 7, 8, 10])
            #expect(report.failures[0].reason.contains("unknown metal '18k-gold'"))
            #expect(report.failures[2].reason.contains("images/missing.jpg cannot be read"))
            #expect(report.failures[3].reason.contains("truncated image"))
            #expect(report.failures[4].reason.contains("leaves the catalogue directory"))
            #expect(report.failures[5].reason.contains("duplicate external_id p0"))

            #expect(try await db.scalar("SELECT count(*) FROM products") == 3)
            #expect(try await db.scalar("SELECT count(*) FROM product_images") == 4)
            #expect(try await db.scalar("SELECT count(*) FROM product_descriptions") == 6)
            #expect(try await db.scalar("SELECT count(*) FROM product_attributes WHERE field = 'gemstone'") == 4)
            #expect(try await db.scalar("SELECT count(*) FROM product_images WHERE width = 12 AND height = 8 AND source = 'catalogue'") == 4)
            // The stored object is the file's bytes, under its SHA-256.
            let p0 = try Data(contentsOf: catalogue.appendingPathComponent("images/p0.png"))
            #expect(try await DirectoryObjectStore(root: objects).get(ObjectKey(digestOf: p0)) == p0)
            #expect(try await db.scalar("SELECT count(*) FROM product_images WHERE sha256 = '\(ObjectKey(digestOf: p0).hex)'") == 2)
            // Splits follow the external id.
            #expect(try await db.scalar("SELECT count(*) FROM products WHERE external_id = 'p1' AND split = '\(DatasetSplit.of(externalID: "p1").rawValue)'") == 1)

            let again = try await db.configuration.withConnection(logger: testLogger) {
                try await importer.importDirectory(catalogue, connection: $0, logger: testLogger)
            }
            #expect(again.imported == 0 && again.alreadyPresent == 3)
            #expect(try await db.scalar("SELECT count(*) FROM products") == 3)
            #expect(try await db.scalar("SELECT count(*) FROM product_images") == 4)
            #expect(try await db.scalar("SELECT count(*) FROM product_descriptions") == 6)
            #expect(try await db.scalar("SELECT count(*) FROM artisans") == 1)  // all three share "maker-2"
        }
    }

    @Test func importsTheCSVLayout() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-csv-\(UUID().uuidString)")
        let objects = dir.appendingPathComponent("objects")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("img"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ImageEncoder.jpeg(Tensor.full([3, 16, 16], 0.6)).write(to: dir.appendingPathComponent("img/a.jpg"))
        try """
            external_id,artisan,title,category,metal,gemstones,style,finish,descriptions,images
            csv-1,maria,"Pearl Drop Earrings, Silver",earrings,sterling-silver,pearl,classic,polished,"Pearl drops in silver.|A second, longer text.",img/a.jpg
            csv-2,maria,Bad Row,earrings,unobtainium,pearl,classic,polished,Text.,img/a.jpg
            """.write(to: dir.appendingPathComponent("catalogue.csv"), atomically: true, encoding: .utf8)
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let report = try await db.configuration.withConnection(logger: testLogger) {
                try await CatalogImporter(store: try DirectoryObjectStore(root: objects)).importDirectory(dir, connection: $0, logger: testLogger)
            }
            #expect(report.imported == 1)
            #expect(report.failures.map(\.line) == [3])
            #expect(try await db.scalar("SELECT count(*) FROM product_descriptions") == 2)
            #expect(try await db.scalar("SELECT count(*) FROM products WHERE title = 'Pearl Drop Earrings, Silver'") == 1)
        }
    }
}

struct CommittedCatalogueImportTests {
    @Test func committedSampleImportsCleanly() async throws {
        let objects = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-objects-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: objects) }
        try await TestDatabase.with { db in
            try await db.migrateProject()
            let report = try await db.configuration.withConnection(logger: testLogger) {
                try await CatalogImporter(store: try DirectoryObjectStore(root: objects))
                    .importDirectory(repositoryRoot.appendingPathComponent("Fixtures/catalogue"), connection: $0, logger: testLogger)
            }
            #expect(report.failures.isEmpty)
            #expect(report.imported == 1000)
            #expect(try await db.scalar("SELECT count(DISTINCT split) FROM products") == 3)
            #expect(try await db.scalar("SELECT min(width) FROM product_images") >= 256)
            #expect(try await db.scalar("SELECT count(*) FROM product_descriptions") >= 3000)
        }
    }
}
