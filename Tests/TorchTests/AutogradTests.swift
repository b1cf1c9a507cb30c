import Foundation
import Testing
@testable import Torch

@Suite(.serialized) struct AutogradTests {
    /// A conv + linear network in float64, so central differences are accurate to ~1e-8.
    struct Net {
        let convWeight: Tensor, convBias: Tensor, linearWeight: Tensor, linearBias: Tensor
        var parameters: [Tensor] { [convWeight, convBias, linearWeight, linearBias] }

        init() throws {
            LibTorch.manualSeed(7)
            convWeight = try Tensor.randn([4, 2, 3, 3], dtype: .float64).requiresGrad(true)
            convBias = try Tensor.randn([4], dtype: .float64).requiresGrad(true)
            linearWeight = try Tensor.randn([3, 4 * 3 * 3], dtype: .float64).requiresGrad(true)
            linearBias = try Tensor.randn([3], dtype: .float64).requiresGrad(true)
        }

        func loss(_ x: Tensor, _ y: Tensor) throws -> Tensor {
            let h = try Functional.conv2d(x, weight: convWeight, bias: convBias, stride: (2, 2), padding: (1, 1)).tanh()  // (N, 4, 3, 3)
            let logits = try Functional.linear(h.flatten(from: 1), weight: linearWeight, bias: linearBias)                // (N, 3)
            return try Functional.crossEntropy(logits, target: y)
        }
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let net = try Net()
        let x = try Tensor.randn([2, 2, 5, 5], dtype: .float64)
        let y = try Tensor([Int64(0), 2])
        let loss = try net.loss(x, y)
        try loss.backward()
        let h = 1e-6
        var checked = 0
        for parameter in net.parameters {
            let analytic = try #require(parameter.grad).doubles()
            let flat = try parameter.detach().reshape(-1)
            // Every fourth element of each parameter (all of the small ones).
            for i in stride(from: 0, to: parameter.count, by: 4) {
                let original = try flat[i].item()
                let numeric = try withNoGrad { () -> Double in
                    try flat[i].fill_(original + h)
                    let up = try net.loss(x, y).item()
                    try flat[i].fill_(original - h)
                    let down = try net.loss(x, y).item()
                    try flat[i].fill_(original)
                    return (up - down) / (2 * h)
                }
                #expect(Swift.abs(numeric - analytic[i]) < 1e-6 * Swift.max(1, Swift.abs(numeric)),
                        "parameter element \(i): numeric \(numeric) vs autograd \(analytic[i])")
                checked += 1
            }
        }
        #expect(checked > 30)
    }

    @Test func tinyNetworkFitsAFixedBatch() throws {
        LibTorch.manualSeed(3)
        let store = ParameterStore()
        let conv = try Conv2d(store.root / "conv", inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1)
        let norm = try BatchNorm(store.root / "bn", features: 8)
        let head = try Linear(store.root / "head", inFeatures: 8, outFeatures: 4)
        let x = try Tensor.randn([16, 3, 8, 8])
        let y = try Tensor((0 ..< 16).map { Int64($0 % 4) })
        let optimizer = try Optimizer(.adam(), parameters: store.trainableParameters, learningRate: 0.05)
        var loss = 0.0
        for _ in 0 ..< 150 {
            let features = try Functional.adaptiveAvgPool2d(norm(conv(x)).relu(), outputSize: (1, 1)).flatten(from: 1)
            let l = try Functional.crossEntropy(head(features), target: y)
            try optimizer.zeroGrad()
            try l.backward()
            try optimizer.step()
            loss = try l.item()
        }
        #expect(loss < 0.05, "final loss \(loss)")
    }

    @Test func gradientClippingRescalesToMaxNorm() throws {
        let p = try Tensor([Float(1), 1]).requiresGrad(true)
        try (p * Tensor([Float(3), 4])).sum().backward()
        let norm = try clipGradNorm([p], maxNorm: 1)
        #expect(Swift.abs(norm - 5) < 1e-6)
        expectClose(try #require(p.grad).floats(), [0.6, 0.8], tolerance: 1e-5)
    }

    @Test func adamWFirstStepMatchesTheUpdateRule() throws {
        // p = 1, loss = 2p ⇒ g = 2; first AdamW step: p − lr·wd·p − lr·ĝ/(√v̂ + ε) = 1 − 0.001 − 0.1.
        let p = try Tensor([Float(1)]).requiresGrad(true)
        let optimizer = try Optimizer(.adamW(weightDecay: 0.01), parameters: [p], learningRate: 0.1)
        try (p * 2).sum().backward()
        try optimizer.step()
        #expect(Swift.abs(try p.item() - 0.899) < 1e-6)
        try optimizer.setLearningRate(0.5)
        #expect(optimizer.learningRate == 0.5)
        // zeroGrad drops gradients (PyTorch 2's set_to_none); the next backward starts from nothing.
        try optimizer.zeroGrad()
        #expect(p.grad == nil)
        try (p * 3).sum().backward()
        #expect(try #require(p.grad).item() == 3)
    }

    @Test func warmupCosineSchedule() {
        let s = WarmupCosine(peak: 1e-3, warmupSteps: 10, totalSteps: 110, floor: 1e-5)
        #expect(Swift.abs(s.rate(at: 0) - 1e-4) < 1e-12)
        #expect(Swift.abs(s.rate(at: 9) - 1e-3) < 1e-12)
        #expect(Swift.abs(s.rate(at: 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12)
        #expect(s.rate(at: 110) == 1e-5)
        #expect(StepDecay(initial: 1, gamma: 0.5, every: 10).rate(at: 25) == 0.25)
    }
}
