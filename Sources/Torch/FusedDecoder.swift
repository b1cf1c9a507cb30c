import CTorch

/// A model's decoder prepared for the shim's fused step (`lt_decoder_weights_*`): the weights copied
/// once and every matrix the step multiplies by repacked into column panels for its few-rows kernel.
/// Immutable after `init`, so one instance serves every search of a loaded model, on any thread; it is
/// a snapshot — training the model further does not change it.
public final class FusedDecoderWeights: @unchecked Sendable {
    fileprivate let handle: lt_decoder_weights
    /// Tokens in the output distribution.
    public let vocabulary: Int

    /// - weights: per block its 18 tensors in the shim's order (ln1, self in_proj, self out_proj, ln2,
    ///   cross in_proj, cross out_proj, ln3, mlp fc, mlp proj: weight then bias each), then the token
    ///   embedding (V, d), the positions (P, d), and the final norm's weight and bias.
    public init(weights: [Tensor], layers: Int, heads: Int, eps: Double) throws {
        precondition(weights.count == 18 * layers + 4, "18 tensors per block and 4 more")
        var out: lt_decoder_weights? = nil
        try withHandles(weights) { p, n in
            try check(lt_decoder_weights_new(p, n, Int32(layers), Int32(heads), eps, &out))
        }
        handle = out!
        vocabulary = Int(lt_decoder_weights_vocabulary(handle))
    }

    deinit { lt_decoder_weights_free(handle) }
}

/// The shim's fused incremental decoder (`lt_decoder_*`) for G images searched in step: a pre-norm
/// transformer decoder (causal self-attention with a key/value cache, cross-attention over each row's
/// image memory, GELU MLP, tied output projection) stepped one token per row in a single call, for
/// inference. The Swift
/// operator path (`DecoderBlock.step`) is the reference it is tested against; this is the same
/// arithmetic without ~80 operator dispatches per token.
///
/// Not thread-safe: one search at a time (like `Tensor`).
public final class FusedDecoder {
    private let handle: lt_decoder
    /// Tokens in the output distribution.
    public let vocabulary: Int
    public let maxRows: Int
    /// G, the images whose memory the rows attend over.
    public let images: Int

    /// - memory: (G, M, d), the images' decoder memory.
    public init(weights: FusedDecoderWeights, memory: Tensor, maxRows: Int) throws {
        var out: lt_decoder? = nil
        try check(lt_decoder_new(weights.handle, memory.handle, Int32(maxRows), &out))
        handle = out!
        vocabulary = weights.vocabulary
        self.maxRows = maxRows
        images = memory.shape[0]
    }

    deinit { lt_decoder_free(handle) }

    /// Log-probabilities of the next token for each row, row-major (rows × vocabulary), after `tokens`
    /// at `position` (the number of tokens each row's cache already holds); row r attends over image
    /// `images[r]` (nil: image 0 for every row).
    public func step(tokens: [Int], images rowImages: [Int]? = nil, position: Int) throws -> [Float] {
        precondition(!tokens.isEmpty && tokens.count <= maxRows, "1…\(maxRows) rows")
        precondition(rowImages == nil || rowImages!.count == tokens.count, "one image per row")
        let ids = tokens.map(Int64.init), owners = (rowImages ?? []).map(Int64.init)
        var out = [Float](repeating: 0, count: tokens.count * vocabulary)
        try out.withUnsafeMutableBufferPointer { o in
            try owners.withUnsafeBufferPointer { g in
                try check(lt_decoder_step(handle, ids, rowImages == nil ? nil : g.baseAddress, Int32(ids.count), Int64(position),
                                          o.baseAddress, o.count))
            }
        }
        return out
    }

    /// Row i of the cache becomes old row `parents[i]`, for the first `length` positions.
    public func reorder(parents: [Int], length: Int) throws {
        precondition(!parents.isEmpty && parents.count <= maxRows, "1…\(maxRows) rows")
        try check(lt_decoder_reorder(handle, parents.map(Int64.init), Int32(parents.count), Int64(length)))
    }
}
