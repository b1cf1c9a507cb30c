import Foundation

/// The attribute vocabulary: every field a product carries and the values it may take. Loaded from
/// `taxonomy.json` (this target's resource), the single source for the fixture generator, the model's
/// attribute heads and the API. Bump `version` when values change; products record the version they
/// were labelled with.
public struct Taxonomy: Codable, Sendable, Equatable {
    public struct Value: Codable, Sendable, Equatable, Hashable {
        /// Stable identifier used in data files, the database and the API (`rose-gold`).
        public let slug: String
        /// Words used in text (`rose gold`).
        public let label: String
    }

    public struct Field: Codable, Sendable, Equatable {
        public let name: String
        /// Several values at once (gemstones).
        public let multiple: Bool
        /// A value that excludes every other (`none` for gemstones).
        public let exclusive: String?
        public let values: [Value]

        public var slugs: [String] { values.map(\.slug) }
        public func contains(_ slug: String) -> Bool { values.contains { $0.slug == slug } }
        public func label(_ slug: String) -> String? { values.first { $0.slug == slug }?.label }
        public func index(of slug: String) -> Int? { values.firstIndex { $0.slug == slug } }
    }

    public let version: Int
    public let fields: [Field]

    public subscript(name: String) -> Field? { fields.first { $0.name == name } }

    public var category: Field { self["category"]! }
    public var metal: Field { self["metal"]! }
    public var gemstone: Field { self["gemstone"]! }
    public var style: Field { self["style"]! }
    public var finish: Field { self["finish"]! }

    /// The taxonomy shipped with this build.
    public static let standard: Taxonomy = {
        guard let url = Bundle.module.url(forResource: "taxonomy", withExtension: "json"),
              let data = try? Data(contentsOf: url),
              let taxonomy = try? JSONDecoder().decode(Taxonomy.self, from: data)
        else { preconditionFailure("taxonomy.json is missing from the Catalog resources") }
        for name in ["category", "metal", "gemstone", "style", "finish"] {
            precondition(taxonomy[name] != nil, "taxonomy.json lacks the \(name) field")
        }
        return taxonomy
    }()

    /// Checks a product's attributes: every required field present with a known value, multi-valued
    /// fields free of duplicates and of an exclusive value mixed with others. Returns the problems.
    public func validate(_ attributes: Attributes) -> [String] {
        var problems: [String] = []
        for (name, value) in [("category", attributes.category), ("metal", attributes.metal),
                              ("style", attributes.style), ("finish", attributes.finish)] {
            guard let field = self[name] else { continue }
            if !field.contains(value) { problems.append("unknown \(name) '\(value)'") }
        }
        let stones = attributes.gemstones
        if stones.isEmpty { problems.append("gemstones is empty (use 'none')") }
        for stone in stones where !gemstone.contains(stone) { problems.append("unknown gemstone '\(stone)'") }
        if Set(stones).count != stones.count { problems.append("duplicate gemstones") }
        if let exclusive = gemstone.exclusive, stones.contains(exclusive), stones.count > 1 {
            problems.append("gemstone '\(exclusive)' cannot be combined with others")
        }
        return problems
    }
}

/// A product's labelled attributes, by taxonomy slug.
public struct Attributes: Codable, Sendable, Equatable, Hashable {
    public var category: String
    public var metal: String
    public var gemstones: [String]
    public var style: String
    public var finish: String

    public init(category: String, metal: String, gemstones: [String], style: String, finish: String) {
        (self.category, self.metal, self.gemstones, self.style, self.finish) = (category, metal, gemstones, style, finish)
    }

    /// The value of a single-valued field by name (gemstones: the first).
    public func value(_ field: String) -> String {
        switch field {
        case "category": category
        case "metal": metal
        case "style": style
        case "finish": finish
        default: gemstones.first ?? "none"
        }
    }
}
