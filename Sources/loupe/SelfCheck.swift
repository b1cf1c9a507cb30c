import ArgumentParser
import Foundation
import Imaging
import Torch

/// What `make run` does until the service exists: proves libtorch, image I/O and checkpoints work on
/// this machine.
struct SelfCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck", abstract: "Check libtorch, threads, image decoding and checkpoints on this machine.")

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "An image to decode (default: the first fixture photo).")
    var image: String = "Fixtures/catalogue/images/fx-2026-000000.jpg"

    func run() throws {
        try runtime.apply()
        print("libtorch \(LibTorch.version), \(LibTorch.threads) threads")
        let blas = LibTorch.blasCore
        print("BLAS: \(blas.current.map { "OpenBLAS, \($0) kernels" } ?? "not OpenBLAS")")
        if let better = blas.suggested {
            printError("warning: OpenBLAS runs its \(blas.current ?? "") kernels on a CPU that runs its \(better) ones (OPENBLAS_CORETYPE is set)")
        }

        let decoded = try RGBImage(contentsOf: URL(fileURLWithPath: image))
        let batch = try Transforms.batch([decoded], size: 96)
        print("decoded \(image): \(decoded.info.format.rawValue) \(decoded.width)x\(decoded.height) -> batch \(batch.shape)")

        // A tiny network must fit a fixed batch: the loss has to fall.
        let store = ParameterStore()
        let conv = try Conv2d(store.root / "conv", inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1)
        let head = try Linear(store.root / "head", inFeatures: 8, outFeatures: 4)
        let x = try Tensor.randn([8, 3, 16, 16])
        let y = try Tensor([Int64](0 ..< 8).map { $0 % 4 })
        let optimizer = try Optimizer(.adam(), parameters: store.trainableParameters, learningRate: 0.05)
        var first = 0.0, last = 0.0
        for step in 0 ..< 100 {
            let features = try Functional.adaptiveAvgPool2d(conv(x).relu(), outputSize: (1, 1)).flatten(from: 1)
            let loss = try Functional.crossEntropy(head(features), target: y)
            try optimizer.zeroGrad()
            try loss.backward()
            try optimizer.step()
            if step == 0 { first = try loss.item() }
            last = try loss.item()
        }
        print(String(format: "training: loss %.3f -> %.3f over 100 Adam steps", first, last))
        guard last < first * 0.5 else { throw ValidationError("training did not reduce the loss") }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-selfcheck-\(getpid()).pt")
        defer { try? FileManager.default.removeItem(at: file) }
        try store.save(to: file)
        let restored = try Checkpoint.load(from: file)
        guard restored.map(\.name) == store.namedTensors.map(\.name) else {
            throw ValidationError("checkpoint names differ after a round trip")
        }
        print("checkpoint: \(restored.count) tensors round-tripped through \(file.lastPathComponent)")
        print("selfcheck passed")
    }
}
