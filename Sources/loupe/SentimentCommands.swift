import ArgumentParser
import Foundation
import Sentiment
import Service
import Store
import Torch

enum SentimentPaths {
    static var miniLM: String { ProcessInfo.processInfo.environment["LOUPE_MINILM"] ?? ".cache/models/minilm-l6" }
    static let defaultTransformer = ".cache/models/sentiment/default.pt"
    static let defaultNBSVM = ".cache/models/sentiment/default" + NBSVM.fileSuffix
    /// The model `loupe sentiment`, `reviews import` and `serve` use when given none: LOUPE_SENTIMENT_MODEL,
    /// else the default written by `loupe train sentiment --set-default` (a transformer's `default.pt` or
    /// NB-SVM's `default.nbsvm.json`; setting one removes the other).
    static var defaultModel: String {
        if let path = ProcessInfo.processInfo.environment["LOUPE_SENTIMENT_MODEL"] { return path }
        return FileManager.default.fileExists(atPath: defaultNBSVM) ? defaultNBSVM : defaultTransformer
    }

    /// MiniLM-L6's pretrained encoder (from `miniLM`'s safetensors) under a fresh classification head.
    static func pretrainedClassifier() throws -> (config: SentimentModelConfig, network: TransformerClassifier) {
        let directory = URL(fileURLWithPath: miniLM)
        let config = SentimentModelConfig(encoder: try MiniLMConfig.load(from: directory.appendingPathComponent("config.json")), initialisation: .miniLM)
        let network = try TransformerClassifier(encoder: config.encoder)
        try network.loadEncoder(SafeTensors.load(from: directory.appendingPathComponent("model.safetensors")))
        return (config, network)
    }

    /// Makes `model` the default: the one default file of its kind, the other kind's removed.
    static func setDefault(nbsvm: Bool) -> URL {
        try? FileManager.default.removeItem(atPath: nbsvm ? defaultTransformer : defaultNBSVM)
        return URL(fileURLWithPath: nbsvm ? defaultNBSVM : defaultTransformer)
    }
}

extension ReviewCorpus: ExpressibleByArgument {}

enum TrainingSentences {
    /// The sentences a training run sees: --corpus's train split (its first `limit`), its neutral-band
    /// sentences with `neutral`, and the train and validation splits of each `also` corpus; validation and
    /// test are --corpus's.
    static func load(corpus: ReviewCorpus, also: [ReviewCorpus], neutral: Bool, limit: Int?, directory: URL,
                     seed: UInt64) throws -> (train: [ReviewSentence], validation: [ReviewSentence], test: [ReviewSentence]) {
        let all = try ReviewCorpus.load(corpus, directory: directory)
        let splits = ReviewCorpus.splits(corpus, sentences: all, seed: seed)
        var train = splits[.train]!
        if let limit { train = Array(train.prefix(limit)) }
        if neutral { train += all.filter { $0.label == nil } }
        for extra in also {
            let more = ReviewCorpus.splits(extra, sentences: try ReviewCorpus.load(extra, directory: directory), seed: seed)
            train += more[.train]! + more[.validation]!
        }
        return (train, splits[.validation]!, splits[.test]!)
    }
}

extension TrainCommand {
    struct Sentiment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sentiment",
            abstract: "Train a review-sentiment classifier: MiniLM-L6 fine-tuned, or the small transformer from scratch; best epoch by validation accuracy.")

        enum Kind: String, ExpressibleByArgument { case minilm, scratch, nbsvm }

        @Option(help: "Sentences: movie (Pang & Lee, 10,605) or product (Hu & Liu, 3,708); also tweets (4,200) or news (5,190).")
        var corpus: ReviewCorpus = .product
        @Option(help: "Also train on this corpus's train and validation sentences (repeatable: --also tweets --also news); validation and test stay --corpus's.")
        var also: [ReviewCorpus] = []
        @Option(help: "minilm (pretrained MiniLM-L6, fine-tuned), scratch (a 4-layer transformer from random weights) or nbsvm (the bigram NB-SVM baseline).")
        var model: Kind = .minilm
        @Option var epochs = 3
        @Option var batchSize = 32
        @Option(name: .customLong("lr"), help: "Peak learning rate (default 5e-5 for minilm, 5e-4 for scratch).") var learningRate: Double?
        @Option(help: "Start from a model written by `loupe train sentiment` (encoder and head) instead of MiniLM's pretrained encoder, e.g. the movie model for the product corpus.")
        var initFrom: String?
        @Option(help: "Train towards P(positive) = sigmoid(K × mean rating) instead of the rating's sign (soft labels from the raters; e.g. 1.5).")
        var softLabels: Double?
        @Flag(help: "Also train on --corpus's neutral-band sentences (|mean rating| < 0.5, never in validation or test) towards their soft targets; needs --soft-labels.")
        var neutral = false
        @Option(help: "Use at most N training sentences (quick runs).") var limit: Int?
        @Option(help: "Run directory (default .cache/runs/sentiment-<corpus>-<model>-<time>).") var run: String?
        @Flag(help: "Continue the run in --run from its last epoch.") var resume = false
        @Option(help: "Where to copy the best model (default .cache/models/sentiment/<version>.pt).") var out: String?
        @Flag(help: "Also copy it to the default model path (what `loupe sentiment` uses).") var setDefault = false
        @Option(help: "Directory of the review corpora (default .cache/data/reviews).") var data: String?
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard epochs >= 1, batchSize >= 2 else { throw ValidationError("--epochs ≥ 1 and --batch-size ≥ 2") }
            if let softLabels {
                guard softLabels > 0, softLabels.isFinite else { throw ValidationError("--soft-labels must be a positive number") }
                guard model != .nbsvm else { throw ValidationError("--soft-labels trains the transformer models; NB-SVM learns from the labels' signs") }
            }
            guard !neutral || softLabels != nil else { throw ValidationError("--neutral needs --soft-labels: a neutral sentence has no sign to learn") }
            let directory = data.map { URL(fileURLWithPath: $0) } ?? ReviewCorpus.defaultDirectory
            guard !also.contains(corpus), Set(also).count == also.count else { throw ValidationError("--also names --corpus or a corpus twice") }
            let (train, validation, test) = try TrainingSentences.load(corpus: corpus, also: also, neutral: neutral, limit: limit,
                                                                        directory: directory, seed: runtime.seed)
            let corpusName = ([corpus] + also).map(\.rawValue).joined(separator: "+")
            guard train.count >= batchSize else { throw ValidationError("\(train.count) training sentences are fewer than one batch of \(batchSize)") }
            if model == .nbsvm { return try trainNBSVM(train: train, validation: validation, test: test, corpusName: corpusName) }
            let miniLM = URL(fileURLWithPath: SentimentPaths.miniLM)
            let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLM.appendingPathComponent("vocab.txt"))
            var config: SentimentModelConfig
            let network: TransformerClassifier
            switch model {
            case _ where initFrom != nil:
                let start = try SentimentModel(contentsOf: URL(fileURLWithPath: initFrom!))
                guard start.tokenizer.tokens == tokenizer.tokens else { throw ValidationError("\(initFrom!) has another vocabulary than \(miniLM.path)") }
                guard start.config.initialisation.rawValue == model.rawValue else {
                    throw ValidationError("\(initFrom!) is a \(start.config.initialisation.rawValue) model, not \(model.rawValue)")
                }
                (config, network) = (start.config, start.network)
                config.startedFrom = start.config.version
            case .minilm:
                (config, network) = try SentimentPaths.pretrainedClassifier()
            case .scratch, .nbsvm:
                config = .scratch
                network = try TransformerClassifier(encoder: config.encoder)
            }
            config.corpus = corpusName
            config.version = "sentiment-\(corpusName)-\(model.rawValue)-\(runTimestamp())"
            var options = SentimentTrainingOptions()
            (options.epochs, options.batchSize, options.seed) = (epochs, batchSize, runtime.seed)
            options.learningRate = learningRate ?? (model == .minilm ? 5e-5 : 5e-4)
            options.softLabelScale = softLabels
            let runURL = URL(fileURLWithPath: run ?? ".cache/runs/sentiment-\(corpusName)-\(model.rawValue)-\(runTimestamp())")
            print("training \(model.rawValue) (\(network.store.parameterCount) parameters) on \(train.count) \(corpusName) sentences, "
                  + "validating on \(validation.count), testing on \(test.count); run directory \(runURL.path)")
            let bar = LineProgress()
            let result = try SentimentTrainer(model: SentimentModel(config: config, tokenizer: tokenizer, network: network), options: options,
                                              train: train, validation: validation, runDirectory: runURL, log: { bar.log($0) },
                                              progress: { bar.update($0, $1, $2) }).run(resume: resume)
            bar.finish()
            let best = try SentimentModel(contentsOf: result.modelFile)
            let scores = try SentimentModels.evaluate(best, on: test)
            print(String(format: "best epoch %d; test accuracy %.4f, F1 %.4f (%d sentences); training %.0f s", result.bestEpoch, scores.accuracy,
                         scores.f1, scores.count, result.seconds))
            try saveCopies(version: best.config.version, fileName: "\(best.config.version).pt", nbsvm: false) { try best.save(to: $0) }
        }

        /// Writes the model to --out (or .cache/models/sentiment/<fileName>) and, with --set-default, to the default path.
        func saveCopies(version: String, fileName: String, nbsvm: Bool, save: (URL) throws -> Void) throws {
            var destinations = [URL(fileURLWithPath: out ?? ".cache/models/sentiment/\(fileName)")]
            if setDefault { destinations.append(SentimentPaths.setDefault(nbsvm: nbsvm)) }
            for destination in destinations {
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                try save(destination)
                print("model \(version) → \(destination.path)")
            }
        }

        /// NB-SVM trains on train + validation (it has no epochs to choose) in seconds.
        func trainNBSVM(train: [ReviewSentence], validation: [ReviewSentence], test: [ReviewSentence], corpusName: String) throws {
            let start = ContinuousClock.now
            var model = NBSVM.train((train + validation).map { ($0.text, $0.label!) })
            let elapsed = ContinuousClock.now - start
            model.version = "sentiment-\(corpusName)-nbsvm-\(runTimestamp())"
            let scores = try SentimentModels.evaluate(model, on: test)
            print(String(format: "NB-SVM on %d sentences (%d n-grams): test accuracy %.4f, F1 %.4f (%d sentences); training %.2f s",
                         train.count + validation.count, model.weights.count, scores.accuracy, scores.f1, scores.count,
                         elapsed.seconds))
            let trained = model
            try saveCopies(version: model.version, fileName: model.version + NBSVM.fileSuffix, nbsvm: true) { try trained.save(to: $0) }
        }
    }
}

extension TrainCommand {
    struct SentimentMLM: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sentiment-mlm",
            abstract: "Task-adaptive pretraining: continue MiniLM's encoder on the masked-language-model task over the review texts, for `train sentiment --init-from`.")

        @Option(help: "Corpus whose train-split texts are masked (validation texts measure the masked-token loss; test texts are never read).")
        var corpus: ReviewCorpus = .product
        @Option(help: "Also mask this corpus's train and validation texts (repeatable).") var also: [ReviewCorpus] = []
        @Flag(help: "Also mask --corpus's neutral-band sentences (never in any test split).") var neutral = false
        @Option var epochs = 10
        @Option var batchSize = 32
        @Option(name: .customLong("lr"), help: "Peak learning rate (warm-up 6 %, then cosine).") var learningRate = 1e-4
        @Option(help: "Share of word pieces masked per sentence.") var maskFraction = 0.15
        @Option(help: "Use at most N of --corpus's train-split texts (quick runs).") var limit: Int?
        @Option(help: "Run directory (default .cache/runs/sentiment-mlm-<corpus>-<time>).") var run: String?
        @Option(help: "Where to copy the model (default .cache/models/sentiment/<version>.pt).") var out: String?
        @Option(help: "Directory of the review corpora (default .cache/data/reviews).") var data: String?
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard epochs >= 1, batchSize >= 2 else { throw ValidationError("--epochs ≥ 1 and --batch-size ≥ 2") }
            guard maskFraction > 0, maskFraction < 1 else { throw ValidationError("--mask-fraction must be between 0 and 1") }
            guard !also.contains(corpus), Set(also).count == also.count else { throw ValidationError("--also names --corpus or a corpus twice") }
            let directory = data.map { URL(fileURLWithPath: $0) } ?? ReviewCorpus.defaultDirectory
            let (train, validation, _) = try TrainingSentences.load(corpus: corpus, also: also, neutral: neutral, limit: limit,
                                                                    directory: directory, seed: runtime.seed)
            let texts = train.map(\.text)
            guard texts.count >= batchSize else { throw ValidationError("\(texts.count) texts are fewer than one batch of \(batchSize)") }
            let miniLM = URL(fileURLWithPath: SentimentPaths.miniLM)
            let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLM.appendingPathComponent("vocab.txt"))
            var (config, network) = try SentimentPaths.pretrainedClassifier()
            let corpusName = ([corpus] + also).map(\.rawValue).joined(separator: "+")
            config.corpus = corpusName
            config.version = "sentiment-mlm-\(corpusName)-\(runTimestamp())"
            var options = MaskedLanguageOptions()
            (options.epochs, options.batchSize, options.learningRate, options.maskFraction, options.seed) = (epochs, batchSize, learningRate, maskFraction, runtime.seed)
            let runURL = URL(fileURLWithPath: run ?? ".cache/runs/sentiment-mlm-\(corpusName)-\(runTimestamp())")
            print("masked-language-model pretraining of MiniLM-L6 on \(texts.count) \(corpusName) texts, validating on \(validation.count); run directory \(runURL.path)")
            let bar = LineProgress()
            let model = SentimentModel(config: config, tokenizer: tokenizer, network: network)
            let pretrainer = MaskedLanguagePretrainer(model: model, options: options, texts: texts, validation: validation.map(\.text),
                                                      runDirectory: runURL, log: { bar.log($0) }, progress: { bar.update($0, $1, $2) })
            try pretrainer.run()
            bar.finish()
            let destination = URL(fileURLWithPath: out ?? ".cache/models/sentiment/\(config.version).pt")
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try model.save(to: destination)
            print("model \(config.version) → \(destination.path); fine-tune it with `loupe train sentiment --init-from \(destination.path)`")
        }
    }
}

/// `loupe sentiment "text"...`: one JSON line per text, `{"prediction": "positive", "confidence": 0.98}`;
/// with no texts (or `-`) it reads one text per line from standard input.
struct SentimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentiment", abstract: "Classify review texts as positive or negative; prints one JSON object per text.")
    @Argument(help: "Texts to classify; none or '-' reads one per line from standard input.") var texts: [String] = []
    @Option(help: "Model written by `loupe train sentiment` (default: LOUPE_SENTIMENT_MODEL or the default set by --set-default).")
    var model: String?
    @Option(help: "Texts per batch.") var batch = 32
    @OptionGroup var runtime: RuntimeOptions

    func run() async throws {
        try runtime.apply()
        let file = URL(fileURLWithPath: model ?? SentimentPaths.defaultModel)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ValidationError("no sentiment model at \(file.path): train one with `loupe train sentiment --set-default` or pass --model")
        }
        let classifier = try SentimentModels.load(file)
        var inputs = texts.filter { $0 != "-" }
        if inputs.isEmpty {
            while let line = readLine() { inputs.append(line) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for start in stride(from: 0, to: inputs.count, by: max(batch, 1)) {
            let chunk = Array(inputs[start ..< min(start + max(batch, 1), inputs.count)])
            for prediction in try classifier.predict(chunk, batchSize: batch) {
                print(String(decoding: try encoder.encode(prediction), as: UTF8.self))
            }
        }
    }
}

extension SentimentSplit: ExpressibleByArgument {}

extension EvalCommand {
    struct Sentiment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sentiment", abstract: "Accuracy and F1 of a sentiment model on a corpus split, inference ms per review (batches of 32, by length and in arrival order; median of --rounds passes) and model size.")
        @Option(help: "Model written by `loupe train sentiment`.") var model: String
        @Option(help: "movie or product.") var corpus: ReviewCorpus = .product
        @Option(help: "train, validation or test.") var split: SentimentSplit = .test
        @Option(help: "Directory of the review corpora (default .cache/data/reviews).") var data: String?
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Timed passes over the split; the median is reported.") var rounds = 3
        @Option(help: "Also write the split's texts, one per line in corpus order (for a reference timing on the same sentences).")
        var textsOut: String?
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            guard rounds >= 1 else { throw ValidationError("--rounds is at least 1") }
            let file = URL(fileURLWithPath: model)
            let classifier = try SentimentModels.load(file)
            let sentences = try ReviewCorpus.load(corpus, directory: data.map { URL(fileURLWithPath: $0) } ?? ReviewCorpus.defaultDirectory)
            let chosen = ReviewCorpus.splits(corpus, sentences: sentences, seed: runtime.seed)[split]!
            if let textsOut { try AtomicFile.write(Data(chosen.map { $0.text + "\n" }.joined().utf8), to: URL(fileURLWithPath: textsOut)) }
            _ = try classifier.predict(chosen.prefix(32).map(\.text), batchSize: 32)  // warm-up
            let scores = try SentimentModels.evaluate(classifier, on: chosen, batchSize: 32)
            let texts = chosen.map(\.text)
            /// The median over `rounds` passes of ms per review (this 2-core machine varies by ±20 % run to run).
            func msPerReview(_ pass: () throws -> Void) throws -> Double {
                let times = try (0 ..< rounds).map { _ in
                    let start = ContinuousClock.now
                    try pass()
                    return (ContinuousClock.now - start).milliseconds / Double(max(texts.count, 1))
                }
                return percentile(times, 0.5)
            }
            // The whole split in batches of 32 ordered by length (what `predict` does with a list).
            let bucketed = try msPerReview { _ = try classifier.predict(texts, batchSize: 32) }
            // The same sentences 32 at a time in corpus order, as reviews arrive: each batch padded to its own longest.
            let arrival = try msPerReview {
                for batch in stride(from: 0, to: texts.count, by: 32) { _ = try classifier.predict(Array(texts[batch ..< min(batch + 32, texts.count)]), batchSize: 32) }
            }
            let bytes = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
            if json {
                print(String(format: #"{"model":"%@","corpus":"%@","split":"%@","count":%d,"accuracy":%.4f,"f1":%.4f,"ms_per_review":%.3f,"ms_per_review_arrival_order":%.3f,"parameters":%d,"bytes":%d}"#,
                             classifier.version, corpus.rawValue, split.rawValue, scores.count, scores.accuracy, scores.f1,
                             bucketed, arrival, classifier.parameterCount, bytes))
            } else {
                print(String(format: "%@ on %@ %@ (%d sentences): accuracy %.4f, F1 %.4f; %.2f ms per review in batches of 32 by length "
                             + "(%.2f ms in arrival order); %d parameters, %.1f MB",
                             classifier.version, corpus.rawValue, split.rawValue, scores.count, scores.accuracy, scores.f1,
                             bucketed, arrival, classifier.parameterCount, Double(bytes) / 1e6))
            }
        }
    }
}

/// `loupe reviews import FILE`: scores each review with the sentiment model and stores it; bad rows are
/// reported with their line and skipped.
struct ReviewsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reviews", abstract: "Customer reviews.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import reviews from CSV or TSV (header: product,rating,text,time; product is the external id), scoring sentiment and aspects.")
        @Argument(help: "A .csv or .tsv file.") var file: String
        @Option(help: "Sentiment model (default: LOUPE_SENTIMENT_MODEL or the default set by `loupe train sentiment --set-default`).") var model: String?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var runtime: RuntimeOptions

        func run() async throws {
            try runtime.apply()
            let parsed: ReviewFile
            do { parsed = try ReviewFile(contentsOf: URL(fileURLWithPath: file)) } catch let error as ReviewFileError {
                throw ValidationError(error.description)
            }
            let modelFile = URL(fileURLWithPath: model ?? SentimentPaths.defaultModel)
            guard FileManager.default.fileExists(atPath: modelFile.path) else {
                throw ValidationError("no sentiment model at \(modelFile.path): train one with `loupe train sentiment --set-default` or pass --model")
            }
            let analyzer = ReviewAnalyzer(classifier: try SentimentModels.load(modelFile))
            let logger = makeLogger("loupe.reviews")
            var problems = parsed.problems
            let config = try database.configuration()
            let externalIDs = Array(Set(parsed.rows.map(\.product)))
            let products = try await config.withClient(connections: 1, logger: logger) { client in
                try await ReviewRepository(client: client).productIDs(externalIDs: externalIDs, logger: logger)
            }
            var good: [(ReviewFile.Row, Int64)] = []
            for row in parsed.rows {
                if let id = products[row.product] { good.append((row, id)) } else {
                    problems.append(.init(line: row.line, reason: "unknown product '\(row.product)'"))
                }
            }
            var reviews: [NewReview] = []
            for start in stride(from: 0, to: good.count, by: 256) {
                let chunk = Array(good[start ..< min(start + 256, good.count)])
                for (item, analysis) in zip(chunk, try analyzer.analyze(chunk.map(\.0.text))) {
                    reviews.append(NewReview(productID: item.1, rating: item.0.rating, text: item.0.text, reviewedAt: item.0.time, analysis: analysis,
                                             modelVersion: analyzer.version, source: "import", createdBy: nil))
                }
            }
            let scored = reviews
            let imported = try await config.withClient(connections: 1, logger: logger) { client in
                try await ReviewRepository(client: client).insert(scored, logger: logger).count
            }
            for problem in problems.sorted(by: { $0.line < $1.line }) { printError("skipped \(problem)") }
            print("imported \(imported) reviews, skipped \(problems.count) (sentiment by \(analyzer.version))")
        }
    }
}
