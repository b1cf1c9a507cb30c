import CTorch

/// The shim's fused incremental decoder (`lt_decoder_*`): a pre-norm transformer decoder (causal
/// self-attention with a key/value cache, cross-attention over one image's memory, GELU MLP, tied output
/// projection) stepped one token per row in a single call, for inference. The Swift operator path
/// (`DecoderBlock.step`) is the reference it is tested against; this is the same arithmetic without
/// ~80 operator dispatches per token.
///
/// Not thread-safe: one search at a time (like `Tensor`).
public final class FusedDecoder {
    private let handle: lt_decoder
    /// Tokens in the output distribution.
    public let vocabulary: Int
    public let maxRows: Int

    /// - weights: per block its 18 tensors in the shim's order (ln1, self in_proj, self out_proj, ln2,
    ///   cross in_proj, cross out_proj, ln3, mlp fc, mlp proj: weight then bias each), then the token
    ///   embedding (V, d), the positions (P, d), and the final norm's weight and bias.
    /// - memory: (1, M, d), the image's decoder memory.
    public init(weights: [Tensor], layers: Int, heads: Int, eps: Double, memory: Tensor, maxRows: Int) throws {
        precondition(weights.count == 18 * layers + 4, "18 tensors per block and 4 more")
        var out: lt_decoder? = nil
        try withHandles(weights) { p, n in
            try check(lt_decoder_new(p, n, Int32(layers), Int32(heads), eps, memory.handle, Int32(maxRows), &out))
        }
        handle = out!
        vocabulary = Int(lt_decoder_vocabulary(handle))
        self.maxRows = maxRows
    }

    deinit { lt_decoder_free(handle) }

    /// Log-probabilities of the next token for each row, row-major (rows × vocabulary), after `tokens`
    /// at `position` (the number of tokens each row's cache already holds).
    public func step(tokens: [Int], position: Int) throws -> [Float] {
        precondition(!tokens.isEmpty && tokens.count <= maxRows, "1…\(maxRows) rows")
        let ids = tokens.map(Int64.init)
        var out = [Float](repeating: 0, count: tokens.count * vocabulary)
        try out.withUnsafeMutableBufferPointer { o in
            try check(lt_decoder_step(handle, ids, Int32(ids.count), Int64(position), o.baseAddress, o.count))
        }
        return out
    }

    /// Row i of the cache becomes old row `parents[i]`, for the first `length` positions.
    public func reorder(parents: [Int], length: Int) throws {
        precondition(!parents.isEmpty && parents.count <= maxRows, "1…\(maxRows) rows")
        try check(lt_decoder_reorder(handle, parents.map(Int64.init), Int32(parents.count), Int64(length)))
    }
}
