import ArgumentParser
import Foundation
import Synthesis
import Torch

/// `loupe bench train-step`: the Swift half of benchmarks/train_step.sh. The network, batch and
/// optimizer match benchmarks/train_step.py exactly.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Micro-benchmarks (see benchmarks/).", subcommands: [TrainStep.self, Describe.self, CaptionerStep.self, GANStepBench.self])

    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-step", abstract: "Small CNN training steps (batch 32, 3x96x96, Adam); prints images/s.")

        @OptionGroup var runtime: RuntimeOptions
        @Option(help: "Timed steps.") var steps = 20
        @Option(help: "Untimed warm-up steps.") var warmup = 3
        @Option(help: "Batch size.") var batch = 32

        func run() throws {
            try runtime.apply()
            let store = ParameterStore()
            let net = try SmallCNN(store.root, inChannels: 3)
            let optimizer = try Optimizer(.adam(), parameters: store.trainableParameters, learningRate: 1e-3)
            let x = try Tensor.randn([batch, 3, 96, 96])
            let y = try Tensor.randint(0, 10, shape: [batch])
            func step() throws -> Double {
                let loss = try Functional.crossEntropy(net(x), target: y)
                try optimizer.zeroGrad()
                try loss.backward()
                try optimizer.step()
                return try loss.item()
            }
            try timeSteps(steps: steps, warmup: warmup, batch: batch, step)
        }
    }
}

/// Runs `warmup` untimed and `steps` timed training steps (each returning its loss) and prints the JSON
/// line benchmarks/side_by_side.sh compares with the Python twin's.
func timeSteps(steps: Int, warmup: Int, batch: Int, _ step: () throws -> Double) throws {
    for _ in 0 ..< warmup { _ = try step() }
    let start = DispatchTime.now().uptimeNanoseconds
    let cpuStart = processCPUSeconds()
    var loss = 0.0
    for _ in 0 ..< steps { loss = try step() }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let cpu = processCPUSeconds() - cpuStart
    let images = Double(steps * batch)
    print(String(format: #"{"impl":"swift","threads":%d,"steps":%d,"seconds":%.3f,"cpu_seconds":%.3f,"images_per_s":%.2f,"images_per_cpu_s":%.2f,"loss":%.4f}"#,
                 LibTorch.threads, steps, seconds, cpu, images / seconds, images / cpu, loss))
}

/// The `p`-quantile of `v` (0...1) by nearest rank: the element at round((count - 1) * p) of the sorted
/// values, so `p` 0.5 is the median (the upper of the two middle values for an even count).
func percentile(_ v: [Double], _ p: Double) -> Double {
    precondition(!v.isEmpty && (0 ... 1).contains(p), "percentile of an empty list, or p outside 0...1")
    let sorted = v.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// User + system CPU time of this process, all threads (as Python's `time.process_time()`).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
