import Foundation

/// A review file for `loupe reviews import`: CSV (RFC 4180: quoted fields may hold commas, doubled
/// quotes and line breaks) or TSV, with a header naming the columns `product` (the product's external
/// id), `text`, and optionally `rating` (1–5) and `time` (2026-11-01 or an ISO 8601 time).
public struct ReviewFile {
    public struct Row: Sendable, Equatable {
        public let line: Int
        public let product: String
        public let rating: Int?
        public let text: String
        public let time: Date?
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
        public init(line: Int, reason: String) { (self.line, self.reason) = (line, reason) }
    }

    public let rows: [Row]
    public let problems: [Problem]

    public init(contentsOf url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw ReviewFileError.unreadable(url.path) }
        try self.init(text: text, tabSeparated: url.pathExtension.lowercased() == "tsv")
    }

    public init(text: String, tabSeparated: Bool) throws {
        let records = Self.records(text, separator: tabSeparated ? "\t" : ",")
        guard let (_, header) = records.first else { throw ReviewFileError.noHeader }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let product = names.firstIndex(of: "product"), let textColumn = names.firstIndex(of: "text") else {
            throw ReviewFileError.missingColumns(found: names)
        }
        let rating = names.firstIndex(of: "rating"), time = names.firstIndex(of: "time")
        var rows: [Row] = [], problems: [Problem] = []
        let iso = ISO8601DateFormatter(), day = DateFormatter()
        (day.locale, day.timeZone, day.dateFormat) = (Locale(identifier: "en_US_POSIX"), TimeZone(identifier: "UTC"), "yyyy-MM-dd")
        for (line, fields) in records.dropFirst() {
            if fields.count == 1, fields[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }  // blank line
            guard fields.count == names.count else {
                problems.append(Problem(line: line, reason: "\(fields.count) fields, the header has \(names.count)")); continue
            }
            let productID = fields[product].trimmingCharacters(in: .whitespaces)
            let body = fields[textColumn].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !productID.isEmpty else { problems.append(Problem(line: line, reason: "no product")); continue }
            guard !body.isEmpty else { problems.append(Problem(line: line, reason: "empty text")); continue }
            var stars: Int? = nil
            if let rating, !fields[rating].trimmingCharacters(in: .whitespaces).isEmpty {
                guard let r = Int(fields[rating].trimmingCharacters(in: .whitespaces)), (1 ... 5).contains(r) else {
                    problems.append(Problem(line: line, reason: "rating '\(fields[rating])' is not 1–5")); continue
                }
                stars = r
            }
            var when: Date? = nil
            if let time, !fields[time].trimmingCharacters(in: .whitespaces).isEmpty {
                let value = fields[time].trimmingCharacters(in: .whitespaces)
                guard let date = iso.date(from: value) ?? day.date(from: value) else {
                    problems.append(Problem(line: line, reason: "time '\(value)' is not a date")); continue
                }
                when = date
            }
            rows.append(Row(line: line, product: productID, rating: stars, text: body, time: when))
        }
        (self.rows, self.problems) = (rows, problems)
    }

    /// Records with the line each starts on. Quotes are CSV's; TSV fields are taken as they are.
    static func records(_ text: String, separator: Character) -> [(line: Int, fields: [String])] {
        var out: [(Int, [String])] = []
        var fields: [String] = [], field = "", quoted = false, line = 1, start = 1
        var chars = Array(text)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
                } else {
                    if c.isNewline { line += 1 }
                    field.append(c)
                }
            } else if c == "\"" && separator == "," && field.isEmpty {
                quoted = true
            } else if c == separator {
                fields.append(field); field = ""
            } else if c.isNewline {  // "\r\n" is one Character
                fields.append(field); field = ""
                out.append((start, fields)); fields = []
                line += 1; start = line
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); out.append((start, fields)) }
        return out
    }
}

public enum ReviewFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case noHeader
    case missingColumns(found: [String])

    public var description: String {
        switch self {
        case .unreadable(let path): "\(path) is not a readable UTF-8 file"
        case .noHeader: "the file is empty: expected a header line (product,rating,text,time)"
        case .missingColumns(let found): "the header needs the columns product and text (found: \(found.joined(separator: ", ")))"
        }
    }
}
