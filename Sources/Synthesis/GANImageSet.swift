import Catalog
import Foundation
import Imaging
import Torch

/// What a GAN trains on: images in [−1, 1] and, for a conditional model, one label index per condition.
public struct GANImageSet {
    /// (N, C, S, S) float32 in [−1, 1].
    public let images: Tensor
    /// (N, F) int64 indices into `conditions`' labels, or nil for an unconditional set.
    public let labels: Tensor?
    public let conditions: [GANCondition]

    public var count: Int { images.shape[0] }

    public init(images: Tensor, labels: Tensor?, conditions: [GANCondition]) {
        precondition(images.shape.count == 4, "images are (N, C, S, S)")
        precondition(conditions.isEmpty ? labels == nil : labels?.shape == [images.shape[0], conditions.count], "one label per image and condition")
        (self.images, self.labels, self.conditions) = (images, labels, conditions)
    }

    /// Fashion-MNIST at 32×32, optionally conditioned on its ten classes (condition `class`).
    public static func fashionMNIST(_ data: FashionMNIST, conditional: Bool) throws -> GANImageSet {
        guard conditional else { return GANImageSet(images: try data.tensor(), labels: nil, conditions: []) }
        let labels = try Tensor(data.labels.map(Int64.init), shape: [data.count, 1])
        return GANImageSet(images: try data.tensor(), labels: labels, conditions: [GANCondition(name: "class", labels: FashionMNIST.classes)])
    }

    /// Conditions from taxonomy fields with one value each (category, metal, style, finish).
    public static func conditions(fields: [String], taxonomy: Taxonomy = .standard) throws -> [GANCondition] {
        try fields.map { name in
            guard let field = taxonomy[name], !field.multiple else {
                throw TorchError("cannot condition on '\(name)': use one of category, metal, style, finish")
            }
            return GANCondition(name: name, labels: field.slugs)
        }
    }

    /// Catalogue photos padded to a white square and resized to `size` (bilinear, antialiased by
    /// a box pre-shrink of large photos), scaled to [−1, 1]; labels from each product's attributes.
    public static func catalogue(_ items: [(photo: RGBImage, attributes: Attributes)], size: Int, conditions: [GANCondition],
                                 progress: (Int, Int) -> Void = { _, _ in }) throws -> GANImageSet {
        precondition(!items.isEmpty, "no catalogue photos")
        var tensors: [Tensor] = [], rows: [Int64] = []
        for (i, item) in items.enumerated() {
            var image = try Transforms.padToSquare(item.photo.tensor())  // (3, L, L) in [0, 1]
            // Halve with area averaging until within 2× of the target, so bilinear does not alias.
            while image.shape[1] >= 4 * size { image = try Functional.avgPool2d(image.unsqueeze(0), kernel: (2, 2)).squeeze(0) }
            tensors.append(try Transforms.resize(image, height: size, width: size, mode: .bilinear) * 2 - 1)
            for condition in conditions {
                let value = item.attributes.value(condition.name)
                guard let index = condition.labels.firstIndex(of: value) else {
                    throw TorchError("product label \(condition.name) '\(value)' is not in the condition's labels")
                }
                rows.append(Int64(index))
            }
            progress(i + 1, items.count)
        }
        let images = try Tensor.stack(tensors).clamp(min: -1, max: 1)  // (N, 3, size, size)
        let labels = conditions.isEmpty ? nil : try Tensor(rows, shape: [items.count, conditions.count])
        return GANImageSet(images: images, labels: labels, conditions: conditions)
    }
}
