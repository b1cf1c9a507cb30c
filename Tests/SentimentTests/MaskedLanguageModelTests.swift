import Foundation
@testable import Sentiment
import Testing
import Torch

@Suite struct MaskedLanguageModelTests {
    static let tokenizer = try! WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (0 ..< 40).map { "w\($0)" })

    /// BERT's rule: round(15 %) of a sentence's word pieces (at least one), never [CLS]/[SEP]; of the
    /// chosen ones 80 % [MASK], 10 % a random non-special piece, 10 % unchanged; targets are the original
    /// ids there and −100 elsewhere; the same seed gives the same masks.
    @Test func maskingFollowsBERTsRecipe() throws {
        let masking = try TokenMasking(tokenizer: Self.tokenizer)
        let sentence = [2] + (5 ..< 45).map { $0 } + [3]                        // [CLS] w0 … w39 [SEP]
        var rng = SeededGenerator(seed: 11)
        var masked = 0, random = 0, kept = 0
        for _ in 0 ..< 500 {
            let (ids, targets) = masking(sentence, using: &rng)
            #expect(ids.count == sentence.count && targets.count == sentence.count)
            let chosen = targets.indices.filter { targets[$0] != TokenMasking.ignored }
            #expect(chosen.count == 6)                                          // round(0.15 × 40)
            #expect(!chosen.contains(0) && !chosen.contains(sentence.count - 1))
            for i in sentence.indices where !chosen.contains(i) { #expect(ids[i] == sentence[i]) }
            for i in chosen {
                #expect(targets[i] == sentence[i])
                if ids[i] == 4 { masked += 1 } else if ids[i] == sentence[i] { kept += 1 } else { random += 1; #expect(ids[i] >= 5) }
            }
        }
        let total = Double(masked + random + kept)
        #expect(abs(Double(masked) / total - 0.8) < 0.03, "\(masked) [MASK] of \(total)")
        // A random replacement can draw the original piece (1 in 40), which counts as kept.
        #expect(abs(Double(random) / total - 0.1 * 39 / 40) < 0.025, "\(random) random of \(total)")
        #expect(abs(Double(kept) / total - (0.1 + 0.1 / 40)) < 0.025, "\(kept) kept of \(total)")

        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3)
        #expect(masking(sentence, using: &a) == masking(sentence, using: &b))
        var c = SeededGenerator(seed: 5)
        let one = masking([2, 7, 3], using: &c)                                // one word: it is the one masked
        #expect(one.targets == [-100, 7, -100])
        #expect(masking([2, 3], using: &c).targets == [-100, -100])            // nothing to mask
    }

    /// The head's logits equal Hugging Face's `BertLMPredictionHead` (transformers 4.30.2) with the same
    /// weights and the decoder tied to the word embeddings.
    @Test func headMatchesTransformers() throws {
        var config = MiniLMConfig()
        (config.vocabularySize, config.hidden) = (7, 6)
        let head = try MaskedLanguageHead(encoder: config)
        #expect(Set(head.store.namedTensors.map(\.name)) == ["cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                                                            "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                                                            "cls.predictions.bias"])
        var rng = SeededGenerator(seed: 1)
        func values(_ n: Int) -> [Float] { (0 ..< n).map { _ in Float.random(in: -1 ... 1, using: &rng) } }
        let weights: [String: (shape: [Int], values: [Float])] = [
            "cls.predictions.transform.dense.weight": ([6, 6], values(36)), "cls.predictions.transform.dense.bias": ([6], values(6)),
            "cls.predictions.transform.LayerNorm.weight": ([6], values(6)), "cls.predictions.transform.LayerNorm.bias": ([6], values(6)),
            "cls.predictions.bias": ([7], values(7)),
        ]
        try head.store.load(weights.map { ($0.key, try Tensor($0.value.values, shape: $0.value.shape)) })
        let states = values(3 * 6), embeddings = values(7 * 6)
        let logits = try withNoGrad { try head(Tensor(states, shape: [3, 6]), wordEmbeddings: Tensor(embeddings, shape: [7, 6])) }
        #expect(logits.shape == [3, 7])
        struct Input: Encodable { let weights: [String: [Float]]; let states: [Float]; let embeddings: [Float] }
        let input = try JSONEncoder().encode(Input(weights: weights.mapValues(\.values), states: states, embeddings: embeddings))
        let reference = try JSONDecoder().decode([Float].self, from: transformersReference("""
            import json, sys, torch
            from transformers import BertConfig
            from transformers.models.bert.modeling_bert import BertLMPredictionHead
            d = json.load(sys.stdin)
            head = BertLMPredictionHead(BertConfig(vocab_size=7, hidden_size=6, hidden_act="gelu", layer_norm_eps=1e-12)).eval()
            w = {k[len("cls.predictions."):]: torch.tensor(v) for k, v in d["weights"].items()}
            w["transform.dense.weight"] = w["transform.dense.weight"].reshape(6, 6)
            w["decoder.weight"] = torch.tensor(d["embeddings"]).reshape(7, 6)
            w["decoder.bias"] = w["bias"]
            head.load_state_dict(w)
            with torch.no_grad():
                print(json.dumps(head(torch.tensor(d["states"]).reshape(3, 6)).flatten().tolist()))
            """, input: input))
        for (x, y) in zip(try logits.floats(), reference) { #expect(abs(x - y) < 1e-5, "\(x) vs \(y)") }
    }

    /// On a corpus whose second and fourth words follow from the first and third, a tiny encoder learns to
    /// fill in masked words (validation masked-token accuracy from chance to ≥ 0.8); only the encoder moves,
    /// not the classification head; the saved model reloads as a sentiment model with the trained encoder.
    @Test func pretrainingLearnsTheCorpusAndLeavesTheClassifier() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-mlm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        var rng = SeededGenerator(seed: 9)
        func text() -> String {
            let (a, c) = (Int.random(in: 0 ..< 10, using: &rng), Int.random(in: 20 ..< 30, using: &rng))
            return "w\(a) w\(a + 10) w\(c) w\(c + 10)"
        }
        let texts = (0 ..< 512).map { _ in text() }, validation = (0 ..< 128).map { _ in text() }
        var encoder = MiniLMConfig()
        (encoder.vocabularySize, encoder.hidden, encoder.heads, encoder.intermediate, encoder.layers, encoder.maxPositions) = (Self.tokenizer.tokens.count, 32, 2, 64, 1, 16)
        (encoder.hiddenDropout, encoder.attentionDropout) = (0, 0)
        var config = SentimentModelConfig(encoder: encoder, initialisation: .scratch)
        config.maxLength = 16
        LibTorch.manualSeed(0)
        let model = SentimentModel(config: config, tokenizer: Self.tokenizer, network: try TransformerClassifier(encoder: encoder))
        let classifierBefore = try model.network.store["classifier.weight"]!.floats()
        let wordsBefore = try model.network.store["embeddings.word_embeddings.weight"]!.floats()
        var options = MaskedLanguageOptions()
        (options.epochs, options.batchSize, options.learningRate) = (12, 32, 3e-3)
        var logs: [String] = []
        let history = try MaskedLanguagePretrainer(model: model, options: options, texts: texts, validation: validation, runDirectory: run,
                                                   log: { logs.append($0) }, progress: { _, _, _ in }).run()
        #expect(history.count == 12)
        #expect(logs.first?.hasPrefix("before: validation masked-token loss") == true)
        #expect(history.last!.validationAccuracy >= 0.8, "\(history.map(\.validationAccuracy))")
        #expect(history.last!.validationLoss < history.first!.validationLoss)
        #expect(try model.network.store["classifier.weight"]!.floats() == classifierBefore)
        #expect(try model.network.store["embeddings.word_embeddings.weight"]!.floats() != wordsBefore)
        let reloaded = try SentimentModel(contentsOf: run.appendingPathComponent("model.pt"))
        #expect(try reloaded.network.store["encoder.layer.0.output.dense.weight"]!.floats()
                == model.network.store["encoder.layer.0.output.dense.weight"]!.floats())
        // A batch with nothing to mask (empty texts) is skipped, not a crash.
        let empty = try model.encode(["", ""])                                                   // [CLS] [SEP] each
        #expect(try MaskedLanguagePretrainer.loss(model: model, head: MaskedLanguageHead(encoder: encoder), ids: empty.ids, mask: empty.mask,
                                                 targets: [-100, -100, -100, -100]) == nil)
        for file in ["history.json", "mlm-loss.png", "model.json", "model.vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file)")
        }
    }
}
