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
        let stateError = zip(swiftStates, reference.states).map { abs($0 - $1) }.max() ?? .infinity
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

    @Test func aMismatchedEncoderFileIsRefused() throws {
        let model = try TransformerClassifier(encoder: MiniLMConfig())
        #expect { try model.loadEncoder([("embeddings.word_embeddings.weight", Tensor.zeros([30522, 384]))]) } throws: {
            "\($0)".contains("missing") && "\($0)".contains("encoder.layer.0.attention.self.query.weight")
        }
    }
}
