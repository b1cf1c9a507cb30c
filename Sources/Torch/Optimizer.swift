import CTorch
import Foundation

/// libtorch's Adam, AdamW and SGD over a list of parameters. The optimizer holds its own references to
/// the parameters and its moment estimates; `save`/`load` make a training run resumable.
public final class Optimizer {
    public enum Algorithm: Sendable {
        /// Adam with L2 penalty folded into the gradient (`torch.optim.Adam`).
        case adam(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0)
        /// Adam with decoupled weight decay (`torch.optim.AdamW`).
        case adamW(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01)
        case sgd(momentum: Double = 0, weightDecay: Double = 0)
    }

    private let handle: lt_optimizer
    public let parameters: [Tensor]
    public private(set) var learningRate: Double

    public init(_ algorithm: Algorithm, parameters: [Tensor], learningRate: Double) throws {
        precondition(learningRate >= 0, "learning rate must be non-negative")
        var out: lt_optimizer? = nil
        try withHandles(parameters) { p, n in
            switch algorithm {
            case let .adam(b1, b2, eps, wd):
                try check(lt_optimizer_new(Int32(LT_OPT_ADAM.rawValue), p, n, learningRate, b1, b2, eps, wd, 0, 0, &out))
            case let .adamW(b1, b2, eps, wd):
                try check(lt_optimizer_new(Int32(LT_OPT_ADAMW.rawValue), p, n, learningRate, b1, b2, eps, wd, 0, 0, &out))
            case let .sgd(momentum, wd):
                try check(lt_optimizer_new(Int32(LT_OPT_SGD.rawValue), p, n, learningRate, 0, 0, 0, wd, momentum, 0, &out))
            }
        }
        handle = out!
        self.parameters = parameters
        self.learningRate = learningRate
    }

    deinit { lt_optimizer_free(handle) }

    /// Drops every parameter's gradient (`grad` becomes nil), as PyTorch ≥ 2.0's `zero_grad()` does;
    /// the next backward pass starts from nothing.
    public func zeroGrad() throws { try check(lt_optimizer_zero_grad(handle)) }
    public func step() throws { try check(lt_optimizer_step(handle)) }

    public func setLearningRate(_ rate: Double) throws {
        try check(lt_optimizer_set_lr(handle, rate))
        learningRate = rate
    }

    /// Clips the gradients' joint norm to `maxNorm`; returns the norm before clipping.
    @discardableResult
    public func clipGradNorm(maxNorm: Double) throws -> Double {
        try Torch.clipGradNorm(parameters, maxNorm: maxNorm)
    }

    /// Writes the optimizer's state (moments, step counts) through a temporary file and a rename.
    public func save(to url: URL) throws {
        try AtomicFile.write(to: url) { try check(lt_optimizer_save(handle, $0.path)) }
    }

    public func load(from url: URL) throws { try check(lt_optimizer_load(handle, url.path)) }
}

/// A learning rate as a function of the optimizer step.
public protocol LearningRateSchedule: Sendable {
    func rate(at step: Int) -> Double
}

public struct ConstantRate: LearningRateSchedule {
    public let value: Double
    public init(_ value: Double) { self.value = value }
    public func rate(at step: Int) -> Double { value }
}

/// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `floor` at `totalSteps`
/// (nanoGPT's schedule).
public struct WarmupCosine: LearningRateSchedule {
    public let peak: Double, floor: Double, warmupSteps: Int, totalSteps: Int

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, floor: Double = 0) {
        precondition(totalSteps > 0 && warmupSteps >= 0 && warmupSteps <= totalSteps, "bad schedule lengths")
        (self.peak, self.floor, self.warmupSteps, self.totalSteps) = (peak, floor, warmupSteps, totalSteps)
    }

    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        if step >= totalSteps { return floor }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        return floor + 0.5 * (peak - floor) * (1 + Foundation.cos(Double.pi * progress))
    }
}

/// Multiplies the rate by `gamma` every `every` steps.
public struct StepDecay: LearningRateSchedule {
    public let initial: Double, gamma: Double, every: Int
    public init(initial: Double, gamma: Double, every: Int) {
        precondition(every > 0, "step decay period must be positive")
        (self.initial, self.gamma, self.every) = (initial, gamma, every)
    }
    public func rate(at step: Int) -> Double { initial * Foundation.pow(gamma, Double(step / every)) }
}
