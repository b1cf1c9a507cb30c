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
