import Foundation

/// One product as the captioner trains on it: its photos (object-store keys), labelled attributes, title
/// and reference descriptions.
public struct CaptionExample: Sendable, Codable, Equatable {
    public let productID: Int64
    public let externalID: String
    public let split: DatasetSplit
    public let attributes: Attributes
    public let title: String
    public let descriptions: [String]
    public let images: [ObjectKey]

    public init(productID: Int64, externalID: String, split: DatasetSplit, attributes: Attributes, title: String,
                descriptions: [String], images: [ObjectKey]) {
        (self.productID, self.externalID, self.split, self.attributes) = (productID, externalID, split, attributes)
        (self.title, self.descriptions, self.images) = (title, descriptions, images)
    }
}

/// A deliberately thinned category, for measuring what helps a low-volume category: of the products a
/// trainer learns from, only the first `keep` of `category` (by product id) stay. Given on the command
/// line as `CATEGORY=KEEP`, e.g. `bracelet=10`. The GAN and the captioner apply the same rule, so a
/// generator trained on the thinned set has seen exactly the photos the thinned captioner sees.
public struct Thinning: Sendable, Equatable, CustomStringConvertible {
    public let category: String
    public let keep: Int

    public init(category: String, keep: Int) {
        precondition(keep >= 0, "a thinned category keeps zero or more products")
        (self.category, self.keep) = (category, keep)
    }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Parses `CATEGORY=KEEP`; the category must be one of `categories`.
    public init(parsing text: String, categories: [String] = Taxonomy.standard.category.slugs) throws {
        let parts = text.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let keep = Int(parts[1]), keep >= 0 else {
            throw ParseError(description: "--thin takes CATEGORY=KEEP with KEEP ≥ 0, e.g. bracelet=10 (got \"\(text)\")")
        }
        guard categories.contains(parts[0]) else {
            throw ParseError(description: "--thin: unknown category \"\(parts[0])\"; one of \(categories.joined(separator: ", "))")
        }
        self.init(category: parts[0], keep: keep)
    }

    public var description: String { "\(category)=\(keep)" }

    /// The examples in their order, less every product of the category after the first `keep` by id.
    public func apply(_ examples: [CaptionExample]) -> [CaptionExample] {
        let kept = Set(examples.filter { $0.attributes.category == category }.map(\.productID).sorted().prefix(keep))
        return examples.filter { $0.attributes.category != category || kept.contains($0.productID) }
    }
}
