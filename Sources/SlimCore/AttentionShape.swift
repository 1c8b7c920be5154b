/// What an attention op needs beyond Q, K, V and the layout.
public struct AttentionOptions: Sendable {
    /// Multiplies `Q·Kᵀ` before the softmax (usually `1/√headDim`).
    public var scale: Float
    /// Valid keys per sequence, i32 `[batch]`: keys at or after it are padding and
    /// never attended to. `nil`: every sequence has all `keyLength` keys.
    public var keyLengths: Tensor?
    /// The key position of query row 0 for causal masking (a KV cache holds
    /// earlier tokens before the queries). `nil`: `keyLength − queryLength`,
    /// the queries being the last tokens.
    public var queryOffset: Int?
    /// A layout per query head (head h uses `headLayouts[h]` instead of the
    /// call's layout); each must match the call's lengths, block size and
    /// element masks. `nil`: every head uses the call's layout.
    public var headLayouts: [BlockSparseLayout]?

    public init(scale: Float, keyLengths: Tensor? = nil, queryOffset: Int? = nil, headLayouts: [BlockSparseLayout]? = nil) {
        self.scale = scale
        self.keyLengths = keyLengths
        self.queryOffset = queryOffset
        self.headLayouts = headLayouts
    }

    /// The layout head `h` attends with.
    public func layout(head h: Int, _ shared: BlockSparseLayout) -> BlockSparseLayout { headLayouts?[h] ?? shared }
}

/// The sizes of one attention call, resolved and checked once for both backends.
///
/// Q and O are `[batch, queryLength, heads, headDim]` and K, V
/// `[batch, keyLength, kvHeads, headDim]` — the layout a linear layer writes,
/// so no transpose sits between the projections and the attention. `kvHeads`
/// divides `heads` (grouped-query attention: query head `h` reads key/value
/// head `h / (heads / kvHeads)`). The log-sum-exp, when asked for, is
/// `[batch, heads, queryLength]`.
///
/// A query row sees key `j` when `layout` keeps `j`'s block for the row's block,
/// `j < keyLengths[b]`, and, for a causal layout, `j ≤ i + causalOffset`. A row
/// that sees no key outputs zeros and a log-sum-exp of −∞.
public struct AttentionShape: Sendable, Equatable, CustomStringConvertible {
    public let batch: Int, queryLength: Int, keyLength: Int
    public let heads: Int, kvHeads: Int, headDim: Int

    /// Query heads per key/value head.
    public var groupSize: Int { heads / kvHeads }
    /// Query row `i` sits at key position `i + causalOffset`: the keys of earlier
    /// steps (a KV cache) come before the queries.
    public let causalOffset: Int
    public var description: String {
        "batch \(batch), \(queryLength) queries × \(keyLength) keys, \(heads)/\(kvHeads) heads of \(headDim)"
    }

    public init(batch: Int, queryLength: Int, keyLength: Int, heads: Int, kvHeads: Int, headDim: Int, causalOffset: Int? = nil) {
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.causalOffset = causalOffset ?? keyLength - queryLength
    }

    public init(q: Tensor, k: Tensor, v: Tensor, o: Tensor, logSumExp: Tensor?, layout: BlockSparseLayout,
                options: AttentionOptions, op: String = "attention") throws(SlimError) {
        for t in [q, k, v, o] + (logSumExp.map { [$0] } ?? []) { try requireF32(t, op: op) }
        guard q.shape.rank == 4, k.shape.rank == 4 else {
            throw .shapeMismatch(op: op, detail: "Q \(q.shape) and K \(k.shape) must be [batch, seq, heads, headDim]")
        }
        let (b, lq, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (lk, hk) = (k.shape[1], k.shape[2])
        guard k.shape[0] == b, k.shape[3] == d, hk > 0, h % hk == 0 else {
            throw .shapeMismatch(op: op, detail: "K \(k.shape) must be [\(b), keys, kvHeads dividing \(h), \(d)] for Q \(q.shape)")
        }
        guard v.shape == k.shape else { throw .shapeMismatch(op: op, detail: "V \(v.shape) must match K \(k.shape)") }
        guard o.shape == q.shape else { throw .shapeMismatch(op: op, detail: "O \(o.shape) must match Q \(q.shape)") }
        guard d > 0, d <= 256 else { throw .shapeMismatch(op: op, detail: "head dimension \(d) must be in 1...256") }
        guard layout.queryLength == lq, layout.keyLength == lk else {
            throw .shapeMismatch(op: op, detail: "layout is \(layout.queryLength)×\(layout.keyLength) but Q·Kᵀ is \(lq)×\(lk)")
        }
        if let perHead = options.headLayouts {
            guard perHead.count == h, perHead.allSatisfy({
                $0.queryLength == lq && $0.keyLength == lk && $0.blockSize == layout.blockSize && $0.causal == layout.causal
                    && $0.window == layout.window && $0.globalTokens == layout.globalTokens
            }) else {
                throw .shapeMismatch(op: op, detail: "\(perHead.count) head layouts for \(h) heads: each must match the call's lengths, block size and masks")
            }
        }
        if let lse = logSumExp, lse.elementCount != b * h * lq {
            throw .shapeMismatch(op: op, detail: "log-sum-exp \(lse.label) must hold \(b)×\(h)×\(lq) values")
        }
        if let kl = options.keyLengths, kl.dtype != .i32 || kl.elementCount != b {
            throw .shapeMismatch(op: op, detail: "key lengths \(kl.label) must be \(b) i32 values, one per sequence")
        }
        self.init(batch: b, queryLength: lq, keyLength: lk, heads: h, kvHeads: hk, headDim: d, causalOffset: options.queryOffset)
    }

    /// Multiply-adds of the kept blocks (Q·Kᵀ and P·V), counting masked elements inside kept blocks.
    public func flops(keptBlocks: Int, blockSize: Int) -> Double {
        4 * Double(batch * heads * keptBlocks) * Double(blockSize * blockSize) * Double(headDim)
    }
}

/// The checks of an attention backward pass; returns the shape of the forward it differentiates.
public func checkAttentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ o: Tensor, _ lse: Tensor, _ dO: Tensor,
                                   _ layout: BlockSparseLayout, _ options: AttentionOptions, _ grads: AttentionGradients,
                                   on backend: BackendID) throws(SlimError) -> AttentionShape {
    let op = "attentionBackward"
    let s = try AttentionShape(q: q, k: k, v: v, o: o, logSumExp: lse, layout: layout, options: options, op: op)
    guard dO.shape == q.shape, grads.dq.shape == q.shape, grads.dk.shape == k.shape, grads.dv.shape == v.shape else {
        throw .shapeMismatch(op: op, detail: "dO and dQ must match Q \(q.shape), dK and dV must match K \(k.shape)")
    }
    for t in [dO, grads.dq, grads.dk, grads.dv] { try requireF32(t, op: op) }
    try requireOn(backend, [q, k, v, o, lse, dO, grads.dq, grads.dk, grads.dv] + (options.keyLengths.map { [$0] } ?? []), op: op)
    return s
}
