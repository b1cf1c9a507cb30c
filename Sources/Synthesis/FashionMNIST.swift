import Foundation
import Imaging
import Torch

/// Fashion-MNIST from Debian's `dataset-fashion-mnist` (IDX, gzip): 60,000 training and 10,000 test
/// images, 28×28 grayscale, 10 classes.
public struct FashionMNIST {
    public static let directory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    public static let classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable { case train, test }

    /// (N, 28, 28) bytes, row-major, and (N) labels 0…9.
    public let images: [UInt8]
    public let labels: [UInt8]
    public let count: Int

    public init(split: Split, directory: URL = FashionMNIST.directory, limit: Int? = nil) throws {
        let prefix = split == .train ? "train" : "t10k"
        let images = try IDX.read(directory.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz"))
        let labels = try IDX.read(directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz"))
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28, labels.shape == [images.shape[0]] else {
            throw IDXError.notIDX("expected (N, 28, 28) images and (N) labels, got \(images.shape) and \(labels.shape)")
        }
        let n = min(limit ?? images.shape[0], images.shape[0])
        (self.images, self.labels, count) = (Array(images.values.prefix(n * 784)), Array(labels.values.prefix(n)), n)
    }

    /// (N, 1, 32, 32) float32 in [−1, 1]: the 28×28 images padded by 2 pixels of background (−1), as the
    /// seed's 32×32 DCGAN expects.
    public func tensor() throws -> Tensor {
        let raw = try images.withUnsafeBytes { try Tensor.fromBytes($0, dtype: .uint8, shape: [count, 1, 28, 28]) }
        return try (raw.to(.float32) / 127.5 - 1).pad([2, 2, 2, 2], value: -1)
    }
}
