import SlimCore

extension CPUBackend {
    /// The attention logits, block by block: each kept block's `Q·Kᵀ` comes from
    /// sgemm into a block of scratch, and only the keys a row sees are copied
    /// out; the rest of the row holds ``attentionScoreMask``. One writer per
    /// (sequence, head, query block).
    public func attentionScores(_ q: Tensor, _ k: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                                into scores: Tensor) throws {
        let s = try checkAttentionScores(q, k, scores: scores, layout: layout, options: options, on: id)
        let engine = try gemmEngine()  // the per-block products: the GEMM chosen by CPU features (GemmPath)
        let g = ScoreGeometry(s, layout, keyLengths(options.keyLengths, s), self)
        let (qp, kp, sp) = (q.hostFloats, k.hostFloats, scores.hostFloats)
        let bs = layout.blockSize, lk = s.keyLength
        parallelChunks(s.batch * s.heads * layout.queryBlocks, grain: 1) { units in
            let block = UnsafeMutablePointer<Float>.allocate(capacity: bs * bs)
            defer { block.deallocate() }
            for unit in units {
                let qb = unit % layout.queryBlocks, h = (unit / layout.queryBlocks) % s.heads, b = unit / (layout.queryBlocks * s.heads)
                let rows = g.rows(qb), out = sp + ((b * s.heads + h) * s.queryLength + qb * bs) * lk
                out.update(repeating: attentionScoreMask, count: rows * lk)
                let ranges = g.ranges(b, qb)
                for c in options.layout(head: h, layout).keptColumns(ofRow: qb) {
                    let cols = g.columns(c, ranges)
                    guard cols > 0 else { continue }
                    sgemm(false, true, rows, cols, s.headDim, options.scale, qp + g.qOffset(b, qb * bs, h), g.ldq,
                          kp + g.kOffset(b, c * bs, h), g.ldk, 0, block, bs, engine: engine)
                    for r in 0..<rows {
                        for t in 0..<cols where g.sees(ranges[r], c * bs + t) { out[r * lk + c * bs + t] = block[r * bs + t] }
                    }
                }
            }
        }
    }

    /// dQ over query blocks, then dK over key blocks (the transposed lists),
    /// each from the masked block of `dS` and one sgemm that adds into the
    /// output; each output block has one writer.
    public func attentionScoresBackward(_ q: Tensor, _ k: Tensor, gradScores dS: Tensor, layout: BlockSparseLayout,
                                        options: AttentionOptions, accumulatingInto dq: Tensor, dk: Tensor) throws {
        let s = try checkAttentionScoresBackward(q, k, gradScores: dS, layout: layout, options: options, dq: dq, dk: dk, on: id)
        let engine = try gemmEngine()  // the per-block products: the GEMM chosen by CPU features (GemmPath)
        let g = ScoreGeometry(s, layout, keyLengths(options.keyLengths, s), self)
        let (qp, kp, dsp, dqp, dkp) = (q.hostFloats, k.hostFloats, dS.hostFloats, dq.hostFloats, dk.hostFloats)
        let bs = layout.blockSize, d = s.headDim, scale = options.scale

        /// The visible part of dS for query block r × key block c of head h, zero elsewhere; its columns.
        func maskedBlock(_ b: Int, _ h: Int, _ r: Int, _ c: Int, into block: UnsafeMutablePointer<Float>) -> Int {
            let ranges = g.ranges(b, r), cols = g.columns(c, ranges)
            let src = dsp + ((b * s.heads + h) * s.queryLength + r * bs) * s.keyLength + c * bs
            for t in 0..<g.rows(r) {
                for u in 0..<cols { block[t * bs + u] = g.sees(ranges[t], c * bs + u) ? src[t * s.keyLength + u] : 0 }
            }
            return cols
        }

        parallelChunks(s.batch * s.heads * layout.queryBlocks, grain: 1) { units in
            let block = UnsafeMutablePointer<Float>.allocate(capacity: bs * bs)
            defer { block.deallocate() }
            for unit in units {
                let r = unit % layout.queryBlocks, h = (unit / layout.queryBlocks) % s.heads, b = unit / (layout.queryBlocks * s.heads)
                for c in options.layout(head: h, layout).keptColumns(ofRow: r) {
                    let cols = maskedBlock(b, h, r, c, into: block)
                    guard cols > 0 else { continue }
                    // Keys past `cols` are past every row's limit: never read (padding may hold NaN).
                    sgemm(false, false, g.rows(r), d, cols, scale, block, bs, kp + g.kOffset(b, c * bs, h), g.ldk, 1,
                          dqp + g.qOffset(b, r * bs, h), g.ldq, engine: engine)
                }
            }
        }
        parallelChunks(s.batch * s.kvHeads * layout.keyBlocks, grain: 1) { units in
            let block = UnsafeMutablePointer<Float>.allocate(capacity: bs * bs)
            defer { block.deallocate() }
            for unit in units {
                let c = unit % layout.keyBlocks, kvh = (unit / layout.keyBlocks) % s.kvHeads, b = unit / (layout.keyBlocks * s.kvHeads)
                for h in kvh * s.groupSize..<(kvh + 1) * s.groupSize {
                    let lay = options.layout(head: h, layout)
                    for r in lay.transposedRows[Int(lay.transposedStarts[c])..<Int(lay.transposedStarts[c + 1])].map(Int.init) {
                        let cols = maskedBlock(b, h, r, c, into: block)
                        guard cols > 0 else { continue }
                        sgemm(true, false, cols, d, g.rows(r), scale, block, bs, qp + g.qOffset(b, r * bs, h), g.ldq, 1,
                              dkp + g.kOffset(b, c * bs, h), g.ldk, engine: engine)
                    }
                }
            }
        }
    }
}

/// Offsets and per-row visible key ranges of one scores call.
private struct ScoreGeometry {
    let s: AttentionShape, layout: BlockSparseLayout, lengths: [Int], backend: CPUBackend
    var ldq: Int { s.heads * s.headDim }
    var ldk: Int { s.kvHeads * s.headDim }

    init(_ s: AttentionShape, _ layout: BlockSparseLayout, _ lengths: [Int], _ backend: CPUBackend) {
        self.s = s; self.layout = layout; self.lengths = lengths; self.backend = backend
    }

    func rows(_ qb: Int) -> Int { min(layout.blockSize, s.queryLength - qb * layout.blockSize) }
    func qOffset(_ b: Int, _ i: Int, _ h: Int) -> Int { ((b * s.queryLength + i) * s.heads + h) * s.headDim }
    func kOffset(_ b: Int, _ j: Int, _ h: Int) -> Int { ((b * s.keyLength + j) * s.kvHeads + h / s.groupSize) * s.headDim }

    /// `(lo, hi)` of each row of query block `qb` (see `visibleKeys`).
    func ranges(_ b: Int, _ qb: Int) -> [(Int, Int)] {
        (0..<rows(qb)).map { backend.visibleKeys(query: qb * layout.blockSize + $0, layout: layout, shape: s, validKeys: lengths[b]) }
    }

    /// Columns of key block `c` up to the last key any of the rows sees.
    func columns(_ c: Int, _ ranges: [(Int, Int)]) -> Int {
        let j0 = c * layout.blockSize
        return max(0, min(layout.blockSize, s.keyLength - j0, (ranges.map(\.1).max() ?? 0) - j0))
    }

    func sees(_ range: (Int, Int), _ j: Int) -> Bool { j < range.1 && (j >= range.0 || j < layout.globalTokens) }
}
