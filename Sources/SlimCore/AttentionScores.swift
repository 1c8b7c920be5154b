// The attention scores as a tensor, for losses on the attention distribution
// itself (MiniLM / TinyBERT attention KL): shared constants and the operand
// checks of ``Backend/attentionScores(_:_:layout:options:into:)`` and its backward.

/// The score ``Backend/attentionScores(_:_:layout:options:into:)`` writes for a
/// key the query does not see.
///
/// Finite on purpose: a softmax over a row then gives the key probability
/// exactly 0 (`exp(−1e30 − max)` underflows), and where a teacher and a student
/// both mask a key, KL's term `q·(log q − log p)` is `0·(finite)` = 0. With −∞
/// it would be `0·(−∞ + ∞)` = NaN. It stays finite after dividing by any
/// softmax temperature down to 1e-8 (fp32 reaches 3.4e38).
public let attentionScoreMask: Float = -1e30

/// The checks of ``Backend/attentionScores(_:_:layout:options:into:)``: Q and K
/// as for ``Backend/attention(_:_:_:layout:options:into:logSumExp:)``, scores
/// f32 `[batch, heads, queryLength, keyLength]`.
public func checkAttentionScores(_ q: Tensor, _ k: Tensor, scores: Tensor, layout: BlockSparseLayout,
                                 options: AttentionOptions, on backend: BackendID) throws(SlimError) -> AttentionShape {
    let op = "attentionScores"
    let s = try AttentionShape(q: q, k: k, v: k, o: q, logSumExp: nil, layout: layout, options: options, op: op)
    try requireScoresShape(scores, s, what: "scores", op: op)
    try requireOn(backend, [q, k, scores] + (options.keyLengths.map { [$0] } ?? []), op: op)
    return s
}

/// The checks of ``Backend/attentionScoresBackward(_:_:gradScores:layout:options:accumulatingInto:dk:)``:
/// those of the forward, `dQ` shaped like Q and `dK` like K.
public func checkAttentionScoresBackward(_ q: Tensor, _ k: Tensor, gradScores dS: Tensor, layout: BlockSparseLayout,
                                         options: AttentionOptions, dq: Tensor, dk: Tensor,
                                         on backend: BackendID) throws(SlimError) -> AttentionShape {
    let op = "attentionScoresBackward"
    let s = try AttentionShape(q: q, k: k, v: k, o: q, logSumExp: nil, layout: layout, options: options, op: op)
    try requireScoresShape(dS, s, what: "score gradient", op: op)
    guard dq.shape == q.shape, dk.shape == k.shape else {
        throw .shapeMismatch(op: op, detail: "dQ \(dq.label) must match Q \(q.shape) and dK \(dk.label) must match K \(k.shape)")
    }
    for t in [dq, dk] { try requireF32(t, op: op) }
    guard dq.storage !== dk.storage else {
        throw .invalidArgument("\(op): dQ \(dq.label) and dK \(dk.label) must be different tensors")
    }
    try requireOn(backend, [q, k, dS, dq, dk] + (options.keyLengths.map { [$0] } ?? []), op: op)
    return s
}

/// Throws unless `t` is f32 `[batch, heads, queryLength, keyLength]` for `s`.
private func requireScoresShape(_ t: Tensor, _ s: AttentionShape, what: String, op: String) throws(SlimError) {
    try requireF32(t, op: op)
    let want: Shape = [s.batch, s.heads, s.queryLength, s.keyLength]
    guard t.shape == want else {
        throw .shapeMismatch(op: op, detail: "\(what) \(t.label) must be \(want) [batch, heads, queries, keys], not \(t.shape)")
    }
}
