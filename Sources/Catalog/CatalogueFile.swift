import Foundation

/// One product in a catalogue directory's `catalogue.jsonl` — the documented import layout, shared by
/// the fixture generator and a marketplace export:
///
///     DIR/catalogue.jsonl        one JSON object per line (this type)
///     DIR/images/…               the photos, referenced by relative path
///
/// A CSV file (`catalogue.csv`) with the columns `external_id, artisan, title, category, metal,
/// gemstones, style, finish, descriptions, images` is accepted too: gemstones and images separated by
/// `;`, descriptions by `|`.
public struct CatalogueRecord: Codable, Sendable, Equatable {
    public var externalID: String
    public var artisan: String
    public var title: String
    public var attributes: Attributes
    public var descriptions: [String]
    /// Paths relative to the catalogue directory.
    public var images: [String]
    public var design: String?

    enum CodingKeys: String, CodingKey {
        case externalID = "external_id", artisan, title, attributes, descriptions, images, design
    }

    public init(externalID: String, artisan: String, title: String, attributes: Attributes, descriptions: [String],
                images: [String], design: String? = nil) {
        (self.externalID, self.artisan, self.title, self.attributes, self.descriptions, self.images, self.design) =
            (externalID, artisan, title, attributes, descriptions, images, design)
    }
}

/// A line of a catalogue file that could not be read, with its line number.
public struct CatalogueLineError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let reason: String
    public init(line: Int, reason: String) { (self.line, self.reason) = (line, reason) }
    public var description: String { "line \(line): \(reason)" }
}

public enum CatalogueFile {
    /// Reads `catalogue.jsonl` or `catalogue.csv` from `directory`: the records that parse, and an error
    /// per line that does not. Blank lines are skipped.
    public static func read(directory: URL) throws -> (records: [(line: Int, record: CatalogueRecord)], errors: [CatalogueLineError]) {
        let jsonl = directory.appendingPathComponent("catalogue.jsonl")
        let csv = directory.appendingPathComponent("catalogue.csv")
        if FileManager.default.fileExists(atPath: jsonl.path) { return try readJSONLines(jsonl) }
        if FileManager.default.fileExists(atPath: csv.path) { return try readCSV(csv) }
        throw CatalogueLineError(line: 0, reason: "no catalogue.jsonl or catalogue.csv in \(directory.path)")
    }

    static func readJSONLines(_ url: URL) throws -> (records: [(line: Int, record: CatalogueRecord)], errors: [CatalogueLineError]) {
        let text = try String(contentsOf: url, encoding: .utf8)
        var records: [(Int, CatalogueRecord)] = [], errors: [CatalogueLineError] = []
        let decoder = JSONDecoder()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            do {
                records.append((i + 1, try decoder.decode(CatalogueRecord.self, from: Data(trimmed.utf8))))
            } catch let DecodingError.keyNotFound(key, _) {
                errors.append(CatalogueLineError(line: i + 1, reason: "missing field \(key.stringValue)"))
            } catch let DecodingError.typeMismatch(_, context) {
                errors.append(CatalogueLineError(line: i + 1, reason: "wrong type for \(context.codingPath.map(\.stringValue).joined(separator: "."))"))
            } catch {
                errors.append(CatalogueLineError(line: i + 1, reason: "not valid JSON"))
            }
        }
        return (records, errors)
    }

    static let csvColumns = ["external_id", "artisan", "title", "category", "metal", "gemstones", "style", "finish", "descriptions", "images"]

    static func readCSV(_ url: URL) throws -> (records: [(line: Int, record: CatalogueRecord)], errors: [CatalogueLineError]) {
        let rows = parseCSV(try String(contentsOf: url, encoding: .utf8))
        guard let header = rows.first?.fields else { return ([], []) }
        var index: [String: Int] = [:]
        for (i, name) in header.enumerated() { index[name.trimmingCharacters(in: .whitespaces)] = i }
        let missing = csvColumns.filter { index[$0] == nil }
        guard missing.isEmpty else { throw CatalogueLineError(line: 1, reason: "CSV header lacks \(missing.joined(separator: ", "))") }
        var records: [(Int, CatalogueRecord)] = [], errors: [CatalogueLineError] = []
        for row in rows.dropFirst() {
            if row.fields.allSatisfy({ $0.isEmpty }) { continue }
            guard row.fields.count == header.count else {
                errors.append(CatalogueLineError(line: row.line, reason: "\(row.fields.count) fields, header has \(header.count)"))
                continue
            }
            func field(_ name: String) -> String { row.fields[index[name]!].trimmingCharacters(in: .whitespaces) }
            func list(_ name: String, _ separator: Character) -> [String] {
                field(name).split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            records.append((row.line, CatalogueRecord(
                externalID: field("external_id"), artisan: field("artisan"), title: field("title"),
                attributes: Attributes(category: field("category"), metal: field("metal"), gemstones: list("gemstones", ";"),
                                       style: field("style"), finish: field("finish")),
                descriptions: list("descriptions", "|"), images: list("images", ";"))))
        }
        return (records, errors)
    }

    /// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. Each row keeps the line
    /// number it starts on.
    static func parseCSV(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = [], fields: [String] = [], field = "", inQuotes = false
        var line = 1, rowStart = 1
        var chars = Array(text).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\n" || c == "\r\n" {
                fields.append(field); field = ""
                rows.append((rowStart, fields)); fields = []
                line += 1; rowStart = line
            } else if c != "\r" {
                field.append(c)
            }
        }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); rows.append((rowStart, fields)) }
        return rows
    }
}
