import Foundation
import Testing
@testable import Catalog
import Imaging

struct TaxonomyTests {
    @Test func shipsEveryRequiredValue() {
        let t = Taxonomy.standard
        #expect(t.version >= 1)
        #expect(t.category.slugs == ["ring", "necklace", "pendant", "earrings", "bracelet", "bangle", "brooch", "anklet"])
        for metal in ["yellow-gold", "white-gold", "rose-gold", "sterling-silver", "platinum", "copper", "brass", "two-tone"] {
            #expect(t.metal.contains(metal))
        }
        #expect(t.gemstone.slugs.count == 12 && t.gemstone.multiple && t.gemstone.exclusive == "none")
        #expect(t.style.slugs.count == 8 && t.finish.slugs == ["polished", "hammered", "brushed", "matte"])
        #expect(t.metal.label("rose-gold") == "rose gold")
    }

    @Test func validatesAttributes() {
        let t = Taxonomy.standard
        let good = Attributes(category: "ring", metal: "rose-gold", gemstones: ["ruby", "diamond"], style: "vintage", finish: "polished")
        #expect(t.validate(good).isEmpty)
        var bad = good
        bad.metal = "18k-gold"
        #expect(t.validate(bad) == ["unknown metal '18k-gold'"])
        bad = good
        bad.gemstones = ["none", "ruby"]
        #expect(t.validate(bad) == ["gemstone 'none' cannot be combined with others"])
        bad.gemstones = ["ruby", "ruby"]
        #expect(t.validate(bad) == ["duplicate gemstones"])
        bad.gemstones = []
        #expect(t.validate(bad) == ["gemstones is empty (use 'none')"])
    }
}

struct ObjectStoreTests {
    func temporaryRoot() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("loupe-objects-\(UUID().uuidString)")
    }

    @Test func keysCannotNameAPathOutsideTheStore() {
        #expect(ObjectKey("../../etc/passwd") == nil)
        #expect(ObjectKey(String(repeating: "a", count: 63)) == nil)
        #expect(ObjectKey(String(repeating: "A", count: 64)) == nil)  // uppercase is not canonical
        #expect(ObjectKey(String(repeating: "a", count: 62) + "/.") == nil)
        let key = ObjectKey(digestOf: Data("hello".utf8))
        #expect(key.hex == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(key.relativePath == "2c/f2/\(key.hex)")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ObjectKey].self, from: Data(#"["../x"]"#.utf8)) }
    }

    @Test func storesContentAddressedObjectsOnce() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try DirectoryObjectStore(root: root)
        let data = Data((0 ..< 1000).map { UInt8($0 % 251) })
        async let a = store.put(data)
        async let b = store.put(data)
        let (k1, k2) = try await (a, b)
        #expect(k1 == k2)
        #expect(try await store.get(k1) == data)
        #expect(try await store.contains(k1))
        let file = root.appendingPathComponent("objects/\(k1.relativePath)")
        #expect(FileManager.default.fileExists(atPath: file.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path).isEmpty)
        try await store.delete(k1)
        #expect(try await !store.contains(k1))
        await #expect(throws: ObjectStoreError.notFound(k1)) { try await store.get(k1) }
    }

    @Test func aTamperedObjectIsCaught() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try DirectoryObjectStore(root: root)
        let key = try await store.put(Data("original".utf8))
        try Data("tampered".utf8).write(to: store.url(for: key))
        await #expect(throws: ObjectStoreError.corrupt(key)) { try await store.get(key) }
    }

    @Test func anInterruptedWriteLeavesNoObject() async throws {
        // A crash before the rename leaves only a file in tmp/, never a partial object at its key.
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try DirectoryObjectStore(root: root)
        let data = Data("photo bytes".utf8)
        let key = ObjectKey(digestOf: data)
        try data.prefix(4).write(to: root.appendingPathComponent("tmp/\(key.hex).crashed"))
        #expect(try await !store.contains(key))
        #expect(try await store.put(data) == key)
        #expect(try await store.get(key) == data)
    }
}

struct SplitTests {
    @Test func splitIsStableAndProportioned() {
        #expect(DatasetSplit.of(externalID: "fx-1-000001") == DatasetSplit.of(externalID: "fx-1-000001"))
        var counts: [DatasetSplit: Int] = [:]
        for i in 0 ..< 10_000 { counts[DatasetSplit.of(externalID: "product-\(i)"), default: 0] += 1 }
        #expect((7_700 ... 8_300).contains(counts[.train]!))
        #expect((850 ... 1_150).contains(counts[.validation]!))
        #expect((850 ... 1_150).contains(counts[.test]!))
    }
}

struct CatalogueFileTests {
    @Test func parsesQuotedCSV() {
        let rows = CatalogueFile.parseCSV("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast,row,here\n")
        #expect(rows.count == 3)
        #expect(rows[1].fields == ["x, y", "say \"hi\"", "two\nlines"])
        #expect(rows[2].line == 4)
        #expect(rows[2].fields == ["last", "row", "here"])
    }
}

/// `--thin CATEGORY=KEEP`: the first KEEP products of the category by id stay, in their order; every
/// other category is untouched; bad arguments name what is wrong.
struct ThinningTests {
    static func product(_ id: Int64, _ category: String) -> CaptionExample {
        CaptionExample(productID: id, externalID: "p\(id)", split: .train,
                       attributes: Attributes(category: category, metal: "platinum", gemstones: ["none"], style: "classic", finish: "polished"),
                       title: "t", descriptions: ["d"], images: [])
    }

    @Test func keepsTheFirstProductsOfOneCategory() throws {
        // Out of id order on purpose: the rule is by id, the output keeps the input's order.
        let examples = [(9, "bracelet"), (2, "ring"), (7, "bracelet"), (3, "bracelet"), (5, "ring"), (1, "bracelet")].map { Self.product(Int64($0.0), $0.1) }
        let thin = try Thinning(parsing: "bracelet=2")
        #expect(thin == Thinning(category: "bracelet", keep: 2) && thin.description == "bracelet=2")
        #expect(thin.apply(examples).map(\.productID) == [2, 3, 5, 1])
        #expect(Thinning(category: "bracelet", keep: 0).apply(examples).map(\.productID) == [2, 5])
        #expect(Thinning(category: "bracelet", keep: 10).apply(examples) == examples)
        #expect(Thinning(category: "anklet", keep: 0).apply(examples) == examples)
    }

    @Test func refusesBadArguments() {
        func message(_ text: String) -> String {
            do { _ = try Thinning(parsing: text); return "" } catch { return "\(error)" }
        }
        #expect(message("tiara=3").contains("unknown category \"tiara\""))
        #expect(message("bracelet").contains("CATEGORY=KEEP"))
        #expect(message("bracelet=-1").contains("KEEP ≥ 0"))
        #expect(message("bracelet=x").contains("CATEGORY=KEEP"))
    }
}
