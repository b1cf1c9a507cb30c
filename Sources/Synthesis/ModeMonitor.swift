import Foundation
import Imaging
import Torch

/// conv-BN-ReLU ×3 with pooling, global average pool, linear: (N, C, H, W) → (N, classes). The
/// Fashion-MNIST classifier of the mode monitor, and the network of `loupe bench train-step` (3×96×96).
public final class SmallCNN {
    let c1: Conv2d, b1: BatchNorm, c2: Conv2d, b2: BatchNorm, c3: Conv2d, b3: BatchNorm, fc: Linear

    public init(_ p: ParameterPath, inChannels: Int, classes: Int = 10) throws {
        c1 = try Conv2d(p / "c1", inChannels: inChannels, outChannels: 32, kernelSize: 3, padding: 1)
        b1 = try BatchNorm(p / "b1", features: 32)
        c2 = try Conv2d(p / "c2", inChannels: 32, outChannels: 64, kernelSize: 3, padding: 1)
        b2 = try BatchNorm(p / "b2", features: 64)
        c3 = try Conv2d(p / "c3", inChannels: 64, outChannels: 128, kernelSize: 3, padding: 1)
        b3 = try BatchNorm(p / "b3", features: 128)
        fc = try Linear(p / "fc", inFeatures: 128, outFeatures: classes)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try Functional.maxPool2d(b1(c1(x)).relu(), kernel: (2, 2))  // (N, 32, H/2, W/2)
        h = try Functional.maxPool2d(b2(c2(h)).relu(), kernel: (2, 2))      // (N, 64, H/4, W/4)
        h = try b3(c3(h)).relu()                                            // (N, 128, H/4, W/4)
        h = try Functional.adaptiveAvgPool2d(h, outputSize: (1, 1)).flatten(from: 1)  // (N, 128)
        return try fc(h)
    }
}

/// The project's Fashion-MNIST classifier (a `SmallCNN` on 1×32×32), trained to watch a generator for
/// mode collapse: the class histogram of its samples, and how many classes they cover. Input
/// (N, 1, 32, 32) in [−1, 1], as the DCGAN produces.
public final class FashionClassifier {
    public let store: ParameterStore
    let network: SmallCNN

    public init(store: ParameterStore = ParameterStore()) throws {
        self.store = store
        network = try SmallCNN(store.root, inChannels: 1)
    }

    public convenience init(contentsOf url: URL) throws {
        try self.init()
        try store.load(Checkpoint.load(from: url))
        store.eval()
    }

    /// (N, 1, 32, 32) → logits (N, 10).
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try network(x) }

    /// Trains on Fashion-MNIST's training images (Adam 2e-3, no augmentation); returns the test accuracy.
    public static func train(train: FashionMNIST, test: FashionMNIST, epochs: Int = 2, batchSize: Int = 128, seed: UInt64 = 0,
                             progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> (FashionClassifier, accuracy: Double) {
        LibTorch.manualSeed(seed)
        let model = try FashionClassifier()
        let optimizer = try Optimizer(.adam(), parameters: model.store.trainableParameters, learningRate: 2e-3)
        let x = try train.tensor(), y = try Tensor(train.labels.map(Int64.init), shape: [train.count])
        var rng = SplitMix64(seed: seed)
        let steps = train.count / batchSize
        for epoch in 0 ..< epochs {
            model.store.train()
            var order = Array(0 ..< train.count)
            order.shuffle(using: &rng)
            for s in 0 ..< steps {
                let index = try Tensor(order[s * batchSize ..< (s + 1) * batchSize].map(Int64.init), shape: [batchSize])
                let loss = try Functional.crossEntropy(model(x.indexSelect(dim: 0, index: index)), target: y.indexSelect(dim: 0, index: index))
                try optimizer.zeroGrad()
                try loss.backward()
                try optimizer.step()
                progress("classifier epoch \(epoch + 1)/\(epochs)", s + 1, steps)
            }
        }
        // The BatchNorm running statistics trail the fast-moving weights (eval accuracy 0.65 against 0.83
        // in train mode after 192 steps, in PyTorch alike): refresh them with 50 forward passes.
        try withNoGrad {
            for s in 0 ..< min(50, steps) {
                let index = try Tensor(order(s, batchSize, train.count), shape: [batchSize])
                _ = try model(x.indexSelect(dim: 0, index: index))
            }
        }
        model.store.eval()
        let predicted = try model.predict(test.tensor())
        let correct = zip(predicted, test.labels).filter { $0 == Int($1) }.count
        return (model, Double(correct) / Double(test.count))
    }

    /// Consecutive (wrapping) indices of batch `s`.
    static func order(_ s: Int, _ batchSize: Int, _ count: Int) -> [Int64] {
        (0 ..< batchSize).map { Int64((s * batchSize + $0) % count) }
    }

    /// Class indices for images, in batches.
    public func predict(_ images: Tensor, batchSize: Int = 512) throws -> [Int] {
        try withNoGrad {
            var out: [Int] = []
            for start in stride(from: 0, to: images.shape[0], by: batchSize) {
                let end = min(start + batchSize, images.shape[0])
                out += try self(images.slice(dim: 0, start ..< end)).argmax(dim: 1).int64s().map(Int.init)
            }
            return out
        }
    }
}

/// What a generator's samples look like to the classifier: the share of each class, how many classes
/// hold a real share of them (at least a fifth of the uniform 10 %), and the entropy of the histogram
/// (ln 10 ≈ 2.30 when every class is equally common; near 0 when the generator has collapsed to one).
public struct ModeReport: Codable, Sendable, Equatable {
    public let histogram: [Double]
    public let distinctModes: Int
    public let entropy: Double

    public init(classes: [Int], classCount: Int = 10) {
        var counts = [Double](repeating: 0, count: classCount)
        for c in classes where c >= 0 && c < classCount { counts[c] += 1 }
        let total = max(counts.reduce(0, +), 1)
        histogram = counts.map { $0 / total }
        distinctModes = histogram.filter { $0 >= 0.2 / Double(classCount) }.count
        entropy = -histogram.filter { $0 > 0 }.reduce(0) { $0 + $1 * log($1) }
    }
}
