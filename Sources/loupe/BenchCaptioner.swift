import ArgumentParser
import Captioner
import Catalog
import Foundation
import Imaging
import Torch

extension Bench {
    /// `loupe bench describe`: per-photo latency after the model is loaded, by stage.
    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Latency of describe after load: decode + resize + encode + beam search; prints p50/p90 as JSON.")

        @OptionGroup var runtime: RuntimeOptions
        @Argument(help: "Photos to describe in turn.") var photos: [String]
        @Option(help: "Model file (default: LOUPE_MODEL or .cache/models/captioner/default.pt).") var model: String?
        @Option var beam = 3
        @Option(help: "Timed drafts.") var runs = 30
        @Option(help: "Untimed warm-up drafts.") var warmup = 3
        @Flag(help: "Decode with libtorch operators from Swift, the reference path, instead of the shim's fused decoder.") var operators = false
        @Flag(help: "Run the encoder as libtorch operators, the reference path, instead of its fused oneDNN primitives.")
        var operatorEncoder = false
        @Option(help: "Photos drafted together per run, as the service batches concurrent uploads (decode included; no stage times).")
        var batch = 1
        @Flag(help: "Decode JPEGs at full size, the reference for the reduced (scaled IDCT) decode the service and describe use.")
        var fullDecode = false

        func run() throws {
            try runtime.apply()
            let drafter = try Drafter(contentsOf: URL(fileURLWithPath: model ?? Paths.defaultModel))
            drafter.operatorEncoder = operatorEncoder
            let files = try photos.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            if batch > 1 { return try runBatches(drafter, files) }
            var totals: [Double] = [], stages: [[Double]] = [[], [], [], []]
            let size = drafter.model.config.imageSize
            for i in 0 ..< warmup + runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let image = try RGBImage(decoding: files[i % files.count], reducedTo: decodeSide(drafter))
                let t1 = DispatchTime.now().uptimeNanoseconds
                let input = try Drafter.preprocess(image, size: size).unsqueeze(0)
                let t2 = DispatchTime.now().uptimeNanoseconds
                let features = try drafter.encode(input)
                let t3 = DispatchTime.now().uptimeNanoseconds
                _ = try drafter.draft(features: features, options: DecodingOptions(beamWidth: beam, fused: !operators))
                let t4 = DispatchTime.now().uptimeNanoseconds
                guard i >= warmup else { continue }
                let marks = [t0, t1, t2, t3, t4].map { Double($0) / 1e6 }
                for s in 0 ..< 4 { stages[s].append(marks[s + 1] - marks[s]) }
                totals.append(marks[4] - marks[0])
            }
            let names = ["decode_ms", "preprocess_ms", "encode_ms", "heads_and_beam_ms"]
            let parts = zip(names, stages).map { String(format: "\"%@\":%.2f", $0, percentile($1, 0.5)) }.joined(separator: ",")
            print(String(format: #"{"threads":%d,"blas":"%@","beam":%d,"encoder":"%@","decoder":"%@","decode":"%@","runs":%d,"p50_ms":%.2f,"p90_ms":%.2f,%@}"#,
                         LibTorch.threads, LibTorch.blasCore.current ?? "other", beam, operatorEncoder ? "operators" : "oneDNN",
                         operators ? "operators" : "fused",
                         fullDecode ? "full" : "reduced", runs,
                         percentile(totals, 0.5), percentile(totals, 0.9), parts))
        }

        func decodeSide(_ drafter: Drafter) -> Int? { fullDecode ? nil : drafter.model.config.imageSize }

        /// `--batch K`: each run decodes K photos (taken in turn) and drafts them with one
        /// `describe(batch:)`, as the service does for K waiting uploads.
        func runBatches(_ drafter: Drafter, _ files: [Data]) throws {
            let options = DecodingOptions(beamWidth: beam, fused: !operators)
            var totals: [Double] = []
            for i in 0 ..< warmup + runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let images = try (0 ..< batch).map { try RGBImage(decoding: files[(i * batch + $0) % files.count], reducedTo: decodeSide(drafter)) }
                for result in drafter.describe(batch: images.map { [$0] }, options: options) { _ = try result.get() }
                let t1 = DispatchTime.now().uptimeNanoseconds
                if i >= warmup { totals.append(Double(t1 - t0) / 1e6) }
            }
            let p50 = percentile(totals, 0.5)
            print(String(format: #"{"threads":%d,"blas":"%@","beam":%d,"encoder":"%@","decoder":"%@","decode":"%@","batch":%d,"runs":%d,"p50_ms":%.2f,"p90_ms":%.2f,"p50_ms_per_photo":%.2f}"#,
                         LibTorch.threads, LibTorch.blasCore.current ?? "other", beam, operatorEncoder ? "operators" : "oneDNN",
                         operators ? "operators" : "fused",
                         fullDecode ? "full" : "reduced", batch, runs,
                         p50, percentile(totals, 0.9), p50 / Double(batch)))
        }
    }

    /// `loupe bench captioner-step`: the Swift half of benchmarks/captioner_step.sh — one training step of
    /// the captioner's decoder and heads on cached features, matching benchmarks/captioner_step.py.
    struct CaptionerStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "captioner-step", abstract: "Captioner training steps on cached features (AdamW, label smoothing, clipping); prints images/s.")

        @OptionGroup var runtime: RuntimeOptions
        @Option var steps = 20
        @Option var warmup = 3
        @Option var batch = 32
        @Option(help: "Tokens per sequence.") var length = 72
        @Option(help: "Vocabulary size.") var vocabulary = 240

        func run() throws {
            try runtime.apply()
            let texts = ["<metal> <category>"] + (0 ..< vocabulary - Vocabulary.specials.count - Grounding.slotTokens.count).map { "w\($0)" }
            var config = CaptionerConfig(vocabulary: Vocabulary.build(from: texts), taxonomy: .standard)
            config.dropout = 0.1
            let model = try CaptionModel(config: config)
            try model.store.setTrainable(false, prefix: "encoder.")
            model.store.train()
            let optimizer = try Optimizer(.adamW(weightDecay: 0.01), parameters: model.store.trainableParameters, learningRate: 1e-3)
            let features = ImageFeatures(grid: try Tensor.randn([batch, 1280, 7, 7]).relu(),
                                         pooled: try Tensor.randn([batch, model.encoder.pooledWidth]).relu())
            let tokens = try Tensor.randint(5, config.vocabulary.count, shape: [batch, length])
            var attributes: [String: Tensor] = [:]
            for field in config.fields {
                attributes[field.name] = field.multiple ? try Tensor.rand([batch, field.values.count]).gt(0.8).to(.float32)
                                                        : try Tensor.randint(0, field.values.count, shape: [batch])
            }
            func step() throws -> Double {
                try optimizer.zeroGrad()
                let out = try model.forward(features: features, targets: .init(tokens: tokens, attributes: attributes),
                                            labelSmoothing: 0.1, attributeWeight: 1)
                try out.loss.backward()
                try optimizer.clipGradNorm(maxNorm: 1)
                try optimizer.step()
                return try out.loss.item()
            }
            for _ in 0 ..< warmup { _ = try step() }
            let start = DispatchTime.now().uptimeNanoseconds
            var loss = 0.0
            for _ in 0 ..< steps { loss = try step() }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print(String(format: #"{"impl":"swift","threads":%d,"steps":%d,"seconds":%.3f,"images_per_s":%.2f,"loss":%.4f}"#,
                         LibTorch.threads, steps, seconds, Double(steps * batch) / seconds, loss))
        }
    }
}
