import CPUKernels
import SlimCore

extension CPUBackend {
    /// The FlashAttention backward pass over the kept blocks: probabilities are
    /// recomputed from the saved log-sum-exp, Δ = rowsum(dO ∘ O), and each
    /// (query block × key block) step runs in C with its five products in
    /// register tiles (slim_attention_backward_block). One worker owns a whole
    /// (sequence, key/value head): it walks the key blocks, and for each the
    /// query blocks that keep it (the transposed lists), adding into that head's
    /// dK, dV and every group head's dQ held in padded scratch. Each output has
    /// one writer and a fixed order of sums: no atomics, deterministic. (It
    /// replaced seven sgemm calls per block pair, and a second sweep that
    /// recomputed P and dS for dQ.)
    public func attentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, output o: Tensor, logSumExp: Tensor,
                                  gradOutput dO: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                  into grads: AttentionGradients) throws {
        let s = try checkAttentionBackward(q, k, v, o, logSumExp, dO, layout, options, grads, on: id)
        let lengths = keyLengths(options.keyLengths, s)
        let d = s.headDim, bs = layout.blockSize, ldq = s.heads * d, ldk = s.kvHeads * d
        let (qp, kp, vp, op, dop) = (q.hostFloats, k.hostFloats, v.hostFloats, o.hostFloats, dO.hostFloats)
        let lse = logSumExp.hostFloats
        let (dq, dk, dv) = (grads.dq.hostFloats, grads.dk.hostFloats, grads.dv.hostFloats)
        let scale = options.scale, isa = isa.rawValue
        // Δ_i = Σ_e dO_ie · O_ie, laid out like the log-sum-exp.
        let delta = UnsafeMutablePointer<Float>.allocate(capacity: s.batch * s.heads * s.queryLength)
        defer { delta.deallocate() }
        parallelChunks(s.batch * s.queryLength, grain: 16) { range in
            for bi in range {
                let b = bi / s.queryLength, i = bi % s.queryLength
                for h in 0..<s.heads {
                    let at = ((b * s.queryLength + i) * s.heads + h) * d
                    delta[(b * s.heads + h) * s.queryLength + i] = dotProduct(dop + at, op + at, d)
                }
            }
        }

        // Padded layouts (slim_attention_backward_block): rows `ld` apart with zeros
        // past d; a block's tiles read up to 7 rows past its end, and Kᵀ/Vᵀ 16 keys.
        let padRows = Int(SLIM_ATTENTION_PAD_ROWS), padCols = Int(SLIM_ATTENTION_PAD_COLS)
        let pad = { (x: Int, to: Int) in (x + to - 1) / to * to }
        let ld = pad(d, padCols), ldkt = pad(s.keyLength, padCols) + padCols
        let queryRows = pad(s.queryLength, padRows) + padRows, keyRows = pad(s.keyLength, padRows) + padRows
        let scratchCount = slim_attention_backward_scratch(Int32(bs))
        let kBlocks = layout.keyBlocks

        parallelChunks(s.batch * s.kvHeads, grain: 1) { units in
            // Per worker: the head's Kᵀ, Vᵀ and K rows; one query head's scaled Q and dO; the accumulators.
            let kt = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d * ldkt), vt = kt + d * ldkt
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: 3 * keyRows * ld)
            let dkAcc = keys + keyRows * ld, dvAcc = dkAcc + keyRows * ld
            let queries = UnsafeMutablePointer<Float>.allocate(capacity: 3 * queryRows * ld)
            let grads = queries + queryRows * ld, dqAcc = grads + queryRows * ld
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            let first = UnsafeMutablePointer<Int32>.allocate(capacity: bs), limit = UnsafeMutablePointer<Int32>.allocate(capacity: bs)
            defer { kt.deallocate(); keys.deallocate(); queries.deallocate(); scratch.deallocate(); first.deallocate(); limit.deallocate() }
            // Rows past each real end stay zero (tiles read them; they must add nothing).
            keys.update(repeating: 0, count: keyRows * ld)
            queries.update(repeating: 0, count: 2 * queryRows * ld)
            for unit in units {
                let b = unit / s.kvHeads, kvh = unit % s.kvHeads
                let kvBase = (b * s.keyLength * s.kvHeads + kvh) * d
                slim_attention_keys(kp + kvBase, ldk, Int32(s.keyLength), Int32(d), kt, ldkt)
                slim_attention_keys(vp + kvBase, ldk, Int32(s.keyLength), Int32(d), vt, ldkt)
                slim_attention_queries(kp + kvBase, ldk, Int32(s.keyLength), Int32(d), 1, keys, ld)
                dkAcc.update(repeating: 0, count: 2 * keyRows * ld)
                for h in kvh * s.groupSize..<(kvh + 1) * s.groupSize {
                    let qBase = (b * s.queryLength * s.heads + h) * d, row0 = (b * s.heads + h) * s.queryLength
                    slim_attention_queries(qp + qBase, ldq, Int32(s.queryLength), Int32(d), scale, queries, ld)
                    slim_attention_queries(dop + qBase, ldq, Int32(s.queryLength), Int32(d), 1, grads, ld)
                    // A row that saw no key (log-sum-exp −∞, or NaN) has output 0 whatever
                    // its dO: zeroed here, since Pᵀ·dO would multiply its P of 0 by a NaN or ±∞ dO.
                    for i in 0..<s.queryLength where !(lse[row0 + i] > -.infinity) {
                        (grads + i * ld).update(repeating: 0, count: d)
                    }
                    dqAcc.update(repeating: 0, count: queryRows * ld)
                    let lay = options.layout(head: h, layout)
                    for c in 0..<kBlocks {
                        let j0 = c * bs
                        for r in lay.transposedRows[Int(lay.transposedStarts[c])..<Int(lay.transposedStarts[c + 1])] {
                            let i0 = Int(r) * bs, rows = min(bs, s.queryLength - i0)
                            var cols = 0, anyVisible = false
                            for t in 0..<rows {
                                let (lo, hi) = visibleKeys(query: i0 + t, layout: layout, shape: s, validKeys: lengths[b])
                                limit[t] = Int32(max(0, min(bs, s.keyLength - j0, hi - j0)))
                                first[t] = Int32(max(0, min(Int(limit[t]), lo - j0)))
                                cols = max(cols, Int(limit[t]))
                                anyVisible = anyVisible || (limit[t] > 0 && (first[t] < limit[t] || layout.globalTokens > j0))
                            }
                            // Keys no row sees are never read (see the forward pass).
                            guard anyVisible, cols > 0 else { continue }
                            slim_attention_backward_block(queries + i0 * ld, grads + i0 * ld, ld, kt + j0, vt + j0, ldkt,
                                                          keys + j0 * ld, ld, Int32(rows), Int32(cols), Int32(d), first, limit,
                                                          Int32(layout.globalTokens - j0), lse + row0 + i0, delta + row0 + i0,
                                                          dqAcc + i0 * ld, dkAcc + j0 * ld, dvAcc + j0 * ld, ld, scratch, isa)
                        }
                    }
                    for i in 0..<s.queryLength {
                        let out = dq + qBase + i * ldq, acc = dqAcc + i * ld
                        for e in 0..<d { out[e] = scale * acc[e] }
                    }
                }
                for j in 0..<s.keyLength {
                    (dk + kvBase + j * ldk).update(from: dkAcc + j * ld, count: d)
                    (dv + kvBase + j * ldk).update(from: dvAcc + j * ld, count: d)
                }
            }
        }
    }
}
