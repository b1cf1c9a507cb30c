import Foundation
@testable import Synthesis
import Testing
import Torch

@Suite(.serialized) struct ModeMonitorTests {
    @Test func modeReportCountsClassesAndEntropy() {
        let uniform = ModeReport(classes: Array(0 ..< 1000).map { $0 % 10 })
        #expect(uniform.distinctModes == 10 && abs(uniform.entropy - log(10.0)) < 1e-12)
        let collapsed = ModeReport(classes: Array(repeating: 3, count: 500))
        #expect(collapsed.distinctModes == 1 && collapsed.entropy == 0 && collapsed.histogram[3] == 1)
        // 1.5 % of the samples is below a fifth of the uniform share (2 %): not a mode.
        let two = ModeReport(classes: Array(repeating: 1, count: 985) + Array(repeating: 7, count: 15))
        #expect(two.distinctModes == 1 && two.histogram[7] == 0.015)
    }

    /// The project's classifier learns Fashion-MNIST well enough to judge samples, and the trainer
    /// records the class histogram of each epoch's samples.
    @Test func classifierLearnsAndTheTrainerReportsModes() throws {
        let (classifier, accuracy) = try FashionClassifier.train(train: FashionMNIST(split: .train, limit: 8192),
                                                                 test: FashionMNIST(split: .test, limit: 1000), epochs: 3)
        #expect(accuracy > 0.7, "test accuracy \(accuracy)")
        let real = ModeReport(classes: try classifier.predict(FashionMNIST(split: .test, limit: 1000).tensor()))
        #expect(real.distinctModes == 10, "\(real.histogram)")

        let run = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-modes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        var options = GANTrainingOptions()
        (options.epochs, options.batchSize, options.samples) = (1, 32, 16)
        var config = DCGANConfig()
        (config.generatorFeatures, config.discriminatorFeatures) = (16, 16)
        let result = try GANTrainer(options: options, config: config, images: FashionMNIST(split: .test, limit: 64).tensor(), runDirectory: run,
                                    monitor: GANMonitor(classifier: classifier, modeSamples: 200), log: { _ in }, progress: { _, _, _ in }).run(resume: false)
        let modes = try #require(result.history.first?.modes)
        #expect(abs(modes.histogram.reduce(0, +) - 1) < 1e-9 && (1 ... 10).contains(modes.distinctModes))
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("modes.png").path))
    }
}
