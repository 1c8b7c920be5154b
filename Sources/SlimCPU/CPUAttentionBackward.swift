import CPUKernels
import SlimCore

extension CPUBackend {
    /// The FlashAttention backward pass over the kept blocks: probabilities are
    /// recomputed from the saved log-sum-exp, Δ = rowsum(dO ∘ O); one sweep over
    /// key blocks (the transposed lists) writes dK and dV, one over query blocks
    /// writes dQ. Each output block has one writer: no atomics, deterministic.
    public func attentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, output o: Tensor, logSumExp: Tensor,
                                  gradOutput dO: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                  into grads: AttentionGradients) throws {
        let s = try checkAttentionBackward(q, k, v, o, logSumExp, dO, layout, options, grads, on: id)
        // The per-block products go to the GEMM chosen by CPU features (GemmPath).
        let engine = try gemmEngine()
        let lengths = keyLengths(options.keyLengths, s)
        let d = s.headDim, bs = layout.blockSize, ldq = s.heads * d, ldk = s.kvHeads * d
        let (qp, kp, vp, op, dop) = (q.hostFloats, k.hostFloats, v.hostFloats, o.hostFloats, dO.hostFloats)
        let lse = logSumExp.hostFloats
        let (dq, dk, dv) = (grads.dq.hostFloats, grads.dk.hostFloats, grads.dv.hostFloats)
        let scale = options.scale
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

        /// Probabilities P and score gradients dS of query block r against key block c for head h.
        func block(_ b: Int, _ h: Int, _ r: Int, _ c: Int, _ p: UnsafeMutablePointer<Float>, _ ds: UnsafeMutablePointer<Float>,
                   _ first: UnsafeMutablePointer<Int32>, _ limit: UnsafeMutablePointer<Int32>) -> (rows: Int, cols: Int, q: Int, kv: Int, row0: Int) {
            let i0 = r * bs, rows = min(bs, s.queryLength - i0), j0 = c * bs
            let kvh = h / s.groupSize
            var cols = 0
            for t in 0..<rows {
                let (lo, hi) = visibleKeys(query: i0 + t, layout: layout, shape: s, validKeys: lengths[b])
                limit[t] = Int32(max(0, min(bs, s.keyLength - j0, hi - j0)))
                first[t] = Int32(max(0, min(Int(limit[t]), lo - j0)))
                cols = max(cols, Int(limit[t]))
            }
            // Keys no row sees are never read (see the forward pass).
            let qo0 = ((b * s.queryLength + i0) * s.heads + h) * d, kvo0 = ((b * s.keyLength + j0) * s.kvHeads + kvh) * d
            guard cols > 0 else { return (rows, 0, qo0, kvo0, (b * s.heads + h) * s.queryLength + i0) }
            let qo = ((b * s.queryLength + i0) * s.heads + h) * d, kvo = ((b * s.keyLength + j0) * s.kvHeads + kvh) * d
            let row0 = (b * s.heads + h) * s.queryLength + i0
            sgemm(false, true, rows, cols, d, scale, qp + qo, ldq, kp + kvo, ldk, 0, p, bs, engine: engine)
            slim_attention_probabilities(p, Int32(rows), Int32(cols), bs, first, limit, Int32(layout.globalTokens - j0), lse + row0)
            sgemm(false, true, rows, cols, d, 1, dop + qo, ldq, vp + kvo, ldk, 0, ds, bs, engine: engine)
            slim_attention_dscores(p, ds, Int32(rows), Int32(cols), bs, delta + row0)
            return (rows, cols, qo, kvo, row0)
        }

        func scratch(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Void) {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: bs * bs), ds = UnsafeMutablePointer<Float>.allocate(capacity: bs * bs)
            let first = UnsafeMutablePointer<Int32>.allocate(capacity: bs), limit = UnsafeMutablePointer<Int32>.allocate(capacity: bs)
            defer { p.deallocate(); ds.deallocate(); first.deallocate(); limit.deallocate() }
            body(p, ds, first, limit)
        }

        // dK, dV: one writer per (sequence, key/value head, key block), summing over the head group.
        let kBlocks = layout.keyBlocks
        parallelChunks(s.batch * s.kvHeads * kBlocks, grain: 1) { units in
            scratch { p, ds, first, limit in
                for unit in units {
                    let c = unit % kBlocks, kvh = (unit / kBlocks) % s.kvHeads, b = unit / (kBlocks * s.kvHeads)
                    let j0 = c * bs, cols = min(bs, s.keyLength - j0)
                    let kvo = ((b * s.keyLength + j0) * s.kvHeads + kvh) * d
                    for t in 0..<cols {
                        (dk + kvo + t * ldk).update(repeating: 0, count: d)
                        (dv + kvo + t * ldk).update(repeating: 0, count: d)
                    }
                    for h in kvh * s.groupSize..<(kvh + 1) * s.groupSize {
                        let lay = options.layout(head: h, layout)
                        for r in lay.transposedRows[Int(lay.transposedStarts[c])..<Int(lay.transposedStarts[c + 1])] {
                            let g = block(b, h, Int(r), c, p, ds, first, limit)
                            if g.cols == 0 { continue }
                            // dV += Pᵀ·dO, dK += scale · dSᵀ·Q
                            sgemm(true, false, g.cols, d, g.rows, 1, p, bs, dop + g.q, ldq, 1, dv + kvo, ldk, engine: engine)
                            sgemm(true, false, g.cols, d, g.rows, scale, ds, bs, qp + g.q, ldq, 1, dk + kvo, ldk, engine: engine)
                        }
                    }
                }
            }
        }

        // dQ: one writer per (sequence, head, query block).
        let qBlocks = layout.queryBlocks
        parallelChunks(s.batch * s.heads * qBlocks, grain: 1) { units in
            scratch { p, ds, first, limit in
                for unit in units {
                    let r = unit % qBlocks, h = (unit / qBlocks) % s.heads, b = unit / (qBlocks * s.heads)
                    let i0 = r * bs, rows = min(bs, s.queryLength - i0)
                    let qo = ((b * s.queryLength + i0) * s.heads + h) * d
                    for t in 0..<rows { (dq + qo + t * ldq).update(repeating: 0, count: d) }
                    for c in options.layout(head: h, layout).keptColumns(ofRow: r) {
                        let g = block(b, h, r, c, p, ds, first, limit)
                        if g.cols == 0 { continue }
                        sgemm(false, false, g.rows, d, g.cols, scale, ds, bs, kp + g.kv, ldk, 1, dq + qo, ldq, engine: engine)
                    }
                }
            }
        }
    }
}
