import Foundation
import Torch

/// Keys and values of every decoder block for the tokens decoded so far, so each search step runs the
/// decoder on one new token per beam instead of the whole prefix (O(T) instead of O(T²) work).
final class DecoderCache {
    var keys: [Tensor?]      // per block (B, H, t, D)
    var values: [Tensor?]
    let crossKeys: [Tensor]  // per block (1, H, M, D): the image grid, projected once
    let crossValues: [Tensor]
    let crossQueries: [(weight: Tensor, bias: Tensor)]  // per block: the query rows of the packed projection

    init(blocks: Int, crossKeys: [Tensor], crossValues: [Tensor], crossQueries: [(weight: Tensor, bias: Tensor)]) {
        keys = .init(repeating: nil, count: blocks)
        values = .init(repeating: nil, count: blocks)
        (self.crossKeys, self.crossValues, self.crossQueries) = (crossKeys, crossValues, crossQueries)
    }

    /// Keeps the rows of the beams that survive a step, in their new order.
    func reorder(_ parents: [Int]) throws {
        let index = try Tensor(parents.map(Int64.init), shape: [parents.count])
        keys = try keys.map { try $0?.indexSelect(dim: 0, index: index) }
        values = try values.map { try $0?.indexSelect(dim: 0, index: index) }
    }
}

extension MultiheadAttention {
    /// Attention of queries (B, H, 1, D) over keys/values (B or 1, H, t, D) → (B, 1, E) after the output
    /// projection. No mask: the cache holds only positions the new token may see.
    func attend(_ q: Tensor, _ k: Tensor, _ v: Tensor) throws -> Tensor {
        let mixed = try Functional.scaledDotProductAttention(query: q, key: k, value: v).output  // (B, H, 1, D)
        return try outProj(mixed.transpose(1, 2).reshape(q.shape[0], 1, embedDim))
    }
}

extension DecoderBlock {
    /// One new position per beam: x (B, 1, d) at the end of the cached prefix → (B, 1, d).
    func step(_ x: Tensor, cache: DecoderCache, layer: Int) throws -> Tensor {
        let h1 = try norm1(x)
        let qkv = try Functional.linear(h1, weight: selfAttention.inProjWeight, bias: selfAttention.inProjBias)  // (B, 1, 3E)
        let e = selfAttention.embedDim
        let q = try selfAttention.splitHeads(qkv.slice(dim: 2, 0 ..< e))
        let kNew = try selfAttention.splitHeads(qkv.slice(dim: 2, e ..< 2 * e))
        let vNew = try selfAttention.splitHeads(qkv.slice(dim: 2, 2 * e ..< 3 * e))
        let k = try cache.keys[layer].map { try Tensor.cat([$0, kNew], dim: 2) } ?? kNew  // (B, H, t, D)
        let v = try cache.values[layer].map { try Tensor.cat([$0, vNew], dim: 2) } ?? vNew
        (cache.keys[layer], cache.values[layer]) = (k, v)
        var h = try x + selfAttention.attend(q, k, v)
        let (wq, bq) = cache.crossQueries[layer]
        let cq = try crossAttention.splitHeads(Functional.linear(norm2(h), weight: wq, bias: bq))  // (B, H, 1, D)
        h = try h + crossAttention.attend(cq, cache.crossKeys[layer], cache.crossValues[layer])
        return try h + proj(fc(norm3(h)).gelu())
    }

    /// The image grid's keys and values for this block's cross-attention: memory (1, M, d) → (1, H, M, D).
    func crossKeysValues(_ memory: Tensor) throws -> (Tensor, Tensor) {
        let (wk, bk) = try crossAttention.projection(1), (wv, bv) = try crossAttention.projection(2)
        return (try crossAttention.splitHeads(Functional.linear(memory, weight: wk, bias: bk)),
                try crossAttention.splitHeads(Functional.linear(memory, weight: wv, bias: bv)))
    }
}

extension CaptionModel {
    func startCache(memory: Tensor) throws -> DecoderCache {
        let cross = try blocks.map { try $0.crossKeysValues(memory) }
        return DecoderCache(blocks: blocks.count, crossKeys: cross.map(\.0), crossValues: cross.map(\.1),
                            crossQueries: try blocks.map { try $0.crossAttention.projection(0) })
    }

    /// Log-probabilities of the next token after `tokens` (B) at `position`, updating the cache: (B, V).
    func stepLogProbabilities(_ tokens: [Int], position: Int, cache: DecoderCache) throws -> Tensor {
        precondition(position < config.maxLength, "position \(position) beyond maxLength")
        let ids = try Tensor(tokens.map(Int64.init), shape: [tokens.count, 1])
        var x = try tokenEmbedding(ids) + positionRow(position)  // (B, 1, d)
        for (i, block) in blocks.enumerated() { x = try block.step(x, cache: cache, layer: i) }
        let logits = try finalNorm(x).squeeze(1).matmul(tokenEmbedding.weight.transpose(0, 1))  // (B, V)
        return try logits.logSoftmax(dim: 1)
    }

    /// The decoder's weights packed for the shim's fused step (`FusedDecoderWeights`): a snapshot of the
    /// model as it is now, shared by every search until the model changes.
    public func fusedDecoderWeights() throws -> FusedDecoderWeights {
        var weights: [Tensor] = []
        for block in blocks {
            weights += [block.norm1.weight, block.norm1.bias!, block.selfAttention.inProjWeight, block.selfAttention.inProjBias,
                        block.selfAttention.outProj.weight, block.selfAttention.outProj.bias!, block.norm2.weight, block.norm2.bias!,
                        block.crossAttention.inProjWeight, block.crossAttention.inProjBias,
                        block.crossAttention.outProj.weight, block.crossAttention.outProj.bias!, block.norm3.weight, block.norm3.bias!,
                        block.fc.weight, block.fc.bias!, block.proj.weight, block.proj.bias!]
        }
        weights += [tokenEmbedding.weight, position, finalNorm.weight, finalNorm.bias!]
        precondition(blocks.allSatisfy { [$0.norm1, $0.norm2, $0.norm3].allSatisfy { $0.eps == finalNorm.eps } }, "one LayerNorm eps")
        return try FusedDecoderWeights(weights: weights, layers: blocks.count, heads: config.heads, eps: finalNorm.eps)
    }

    /// The shim's fused decoder over one image's memory (1, M, d), for up to `rows` beams: the same
    /// step as `stepLogProbabilities` in one call per token. `weights` from `fusedDecoderWeights()`;
    /// packed afresh when nil.
    func fusedDecoder(memory: Tensor, rows: Int, weights: FusedDecoderWeights? = nil) throws -> FusedDecoder {
        try FusedDecoder(weights: weights ?? fusedDecoderWeights(), memory: memory, maxRows: rows)
    }

    private func positionRow(_ p: Int) throws -> Tensor { try self.position.slice(dim: 0, p ..< p + 1) }  // (1, d)
}
