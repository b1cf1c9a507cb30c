import Foundation
@testable import Sentiment
import Testing
import Torch

/// Hugging Face transformers 4.30.2 `BertModel` over Debian's PyTorch 1.13 (scripts/install-pyref.sh).
func transformersReference(_ script: String, input: Data) throws -> Data {
    try python(".cache/pyref-torch/bin/python", script, arguments: [miniLM.path], input: input)
}

@Suite struct MiniLMTests {
    /// The Swift encoder on MiniLM's weights gives Hugging Face's token states and mean-pooled sentence
    /// vectors for a padded batch (eval mode).
    @Test func encoderMatchesTransformers() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLM.appendingPathComponent("vocab.txt"))
        let config = try MiniLMConfig.load(from: miniLM.appendingPathComponent("config.json"))
        let model = try TransformerClassifier(encoder: config)
        try model.loadEncoder(SafeTensors.load(from: miniLM.appendingPathComponent("model.safetensors")))
        model.store.eval()
        let texts = ["The clasp broke after two days.", "Absolutely stunning ring, exactly as pictured!", "ok",
                     "Shipping was slow but the pendant is lovely and the chain feels sturdy."]
        let (ids, mask) = tokenizer.batch(texts)
        let idTensor = try Tensor(ids.flatMap { $0.map(Int64.init) }, shape: [ids.count, ids[0].count])
        let maskTensor = try Tensor(mask.flatMap { $0.map(Int64.init) }, shape: [ids.count, ids[0].count])
        let (states, pooled) = try withNoGrad {
            let states = try model.encoder(ids: idTensor, mask: maskTensor)
            return (states, try MiniLMEncoder.meanPool(states, mask: maskTensor))
        }
        struct Reference: Decodable { let states: [Float]; let pooled: [Float] }
        let reference = try JSONDecoder().decode(Reference.self, from: try transformersReference("""
            import json, sys, torch
            from transformers import BertModel
            batch = json.load(sys.stdin)
            model = BertModel.from_pretrained(sys.argv[1]).eval()
            ids, mask = torch.tensor(batch["ids"]), torch.tensor(batch["mask"])
            with torch.no_grad():
                states = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
            print(json.dumps({"states": states.flatten().tolist(), "pooled": pooled.flatten().tolist()}))
            """, input: try JSONSerialization.data(withJSONObject: ["ids": ids, "mask": mask])))
        let swiftStates = try states.floats(), swiftPooled = try pooled.floats()
        #expect(swiftStates.count == reference.states.count && swiftPooled.count == 4 * 384)
        // Real tokens' states equal Hugging Face's; padding positions (whose states nothing reads) are zeros.
        let real = mask.flatMap { $0 }.flatMap { Array(repeating: $0 == 1, count: 384) }
        #expect(mask.flatMap { $0 }.contains(0), "the batch has padding")
        #expect(zip(swiftStates, real).allSatisfy { $1 || $0 == 0 })
        let stateError = zip(zip(swiftStates, reference.states), real).filter(\.1).map { abs($0.0.0 - $0.0.1) }.max() ?? .infinity
        let pooledError = zip(swiftPooled, reference.pooled).map { abs($0 - $1) }.max() ?? .infinity
        #expect(stateError < 1e-4 && pooledError < 1e-5, "max |Δ| states \(stateError), pooled \(pooledError)")
        // The padded positions of the short sentence do not change its vector.
        let alone = try withNoGrad {
            let (i, m) = tokenizer.batch(["ok"])
            let it = try Tensor(i[0].map(Int64.init), shape: [1, i[0].count]), mt = try Tensor(m[0].map(Int64.init), shape: [1, m[0].count])
            return try MiniLMEncoder.meanPool(model.encoder(ids: it, mask: mt), mask: mt).floats()
        }
        #expect(zip(alone, swiftPooled[(2 * 384) ..< (3 * 384)]).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// The encoder runs its layers on the batch's real tokens only (padding removed, restored for
    /// attention): a padded batch of mixed lengths gives every sentence the probabilities and the gradients
    /// it gets alone, and `probabilities` (which batches by length) answers in the caller's order.
    @Test func paddingNeverReachesARealToken() throws {
        let words = ["the", "ring", "is", "lovely", "clasp", "broke", "after", "two", "days", "and", "chain", "great"]
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + words)
        var encoder = MiniLMConfig()
        (encoder.vocabularySize, encoder.hidden, encoder.heads, encoder.intermediate, encoder.layers, encoder.maxPositions) = (tokenizer.tokens.count, 16, 2, 32, 2, 16)
        (encoder.hiddenDropout, encoder.attentionDropout) = (0, 0)
        LibTorch.manualSeed(3)
        let network = try TransformerClassifier(encoder: encoder)
        var config = SentimentModelConfig(encoder: encoder, initialisation: .scratch)
        config.maxLength = 16
        let model = SentimentModel(config: config, tokenizer: tokenizer, network: network)
        let texts = ["the clasp broke after two days and the chain broke", "great", "the ring is lovely", "ring", "the chain is great and lovely"]
        let labels: [Int64] = [0, 1, 1, 0, 1]

        let together = try model.probabilities(texts, batchSize: 2)
        let alone = try texts.map { try model.probabilities([$0], batchSize: 1)[0] }
        #expect(zip(together.joined(), alone.joined()).allSatisfy { abs($0 - $1) < 1e-6 }, "\(together) vs \(alone)")
        #expect(Set(together.map { $0[1] }).count == texts.count, "distinct sentences get distinct answers")

        func gradients(_ batch: [Int]) throws -> [[Float]] {
            for p in network.store.trainableParameters { try p.zeroGrad() }
            let (ids, mask) = try model.encode(batch.map { texts[$0] })
            let loss = try Functional.crossEntropy(network(ids: ids, mask: mask), target: Tensor(batch.map { labels[$0] }, shape: [batch.count]),
                                                   reduction: .sum)
            try loss.backward()
            return try network.store.trainableParameters.map { try $0.grad?.floats() ?? [] }
        }
        let padded = try gradients(Array(texts.indices))
        var summed = try gradients([0]).map { $0.map { _ in Float(0) } }
        for i in texts.indices { summed = zip(summed, try gradients([i])).map { zip($0, $1).map(+) } }
        let difference = zip(padded.joined(), summed.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(padded.joined().contains { $0 != 0 } && difference < 1e-5, "max |Δ gradient| \(difference)")
    }

    @Test func aMismatchedEncoderFileIsRefused() throws {
        let model = try TransformerClassifier(encoder: MiniLMConfig())
        #expect { try model.loadEncoder([("embeddings.word_embeddings.weight", Tensor.zeros([30522, 384]))]) } throws: {
            "\($0)".contains("missing") && "\($0)".contains("encoder.layer.0.attention.self.query.weight")
        }
    }
}
