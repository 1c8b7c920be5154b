import CPUKernels
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
    /// Block-sparse attention, FlashAttention-style on the CPU: for each query
    /// block and each kept key block, one C step (slim_attention_block) takes
    /// the scores in register tiles, turns them into weights with an online
    /// softmax (running max and sum) and adds the weighted values; blocks the
    /// layout does not keep are never visited. Memory per core is one block of
    /// scores and one of outputs: it grows with the block size, never with the sequence.
    public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                          into o: Tensor, logSumExp: Tensor?) throws {
        let s = try AttentionShape(q: q, k: k, v: v, o: o, logSumExp: logSumExp, layout: layout, options: options)
        try requireOn(id, [q, k, v, o] + [logSumExp, options.keyLengths].compactMap { $0 }, op: "attention")
        let lengths = keyLengths(options.keyLengths, s)
        let (qp, kp, vp, op) = (q.hostFloats, k.hostFloats, v.hostFloats, o.hostFloats)
        let lse = logSumExp?.hostFloats
        let bs = layout.blockSize, qBlocks = layout.queryBlocks, d = s.headDim
        let scale = options.scale, isa = isa.rawValue
        let ldq = s.heads * d, ldk = s.kvHeads * d
        // The P·V tiles multiply a masked key's weight of 0 by its value row too, and 0 · NaN
        // is NaN: values holding NaN or ±∞ (rare, and one scan of V to know) go
        // through a product over each row's visible keys only, as the OpenCL kernel's.
        let careful: Int32 = FiniteCheck.scan(UnsafeBufferPointer(start: vp, count: v.elementCount)) != nil ? 1 : 0
        // The accumulator's rows and columns padded as slim_attention_block's tiles need.
        let pad = { (x: Int, to: Int32) in (x + Int(to) - 1) / Int(to) * Int(to) }
        let accRows = pad(bs, Int32(SLIM_ATTENTION_PAD_ROWS)), ldacc = pad(d, Int32(SLIM_ATTENTION_PAD_COLS))
        let scratchCount = slim_attention_block_scratch(Int32(bs), Int32(d))
        // Kᵀ of every (sequence, key/value head), once per call rather than once per
        // query block: a score tile then reads 16 keys of one head-dim row at once.
        let padCols = Int(SLIM_ATTENTION_PAD_COLS), ldkt = pad(s.keyLength, Int32(padCols)) + padCols
        let kt = UnsafeMutablePointer<Float>.allocate(capacity: s.batch * s.kvHeads * d * ldkt)
        defer { kt.deallocate() }
        parallelChunks(s.batch * s.kvHeads, grain: 1) { heads in
            for unit in heads {
                let b = unit / s.kvHeads, kvh = unit % s.kvHeads
                slim_attention_keys(kp + (b * s.keyLength * s.kvHeads + kvh) * d, ldk, Int32(s.keyLength), Int32(d),
                                    kt + unit * d * ldkt, ldkt)
            }
        }
        parallelChunks(s.batch * s.heads * qBlocks, grain: 1) { units in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            let queries = UnsafeMutablePointer<Float>.allocate(capacity: accRows * d)
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: accRows * ldacc)
            let peak = UnsafeMutablePointer<Float>.allocate(capacity: bs), sum = UnsafeMutablePointer<Float>.allocate(capacity: bs)
            let limit = UnsafeMutablePointer<Int32>.allocate(capacity: bs), first = UnsafeMutablePointer<Int32>.allocate(capacity: bs)
            defer { scratch.deallocate(); queries.deallocate(); acc.deallocate(); peak.deallocate(); sum.deallocate(); limit.deallocate(); first.deallocate() }
            for unit in units {
                let qb = unit % qBlocks, h = (unit / qBlocks) % s.heads, b = unit / (qBlocks * s.heads)
                let kvh = h / s.groupSize, i0 = qb * bs, rows = min(bs, s.queryLength - i0)
                let qrows = qp + ((b * s.queryLength + i0) * s.heads + h) * d
                peak.update(repeating: -.infinity, count: rows)
                sum.update(repeating: 0, count: rows)
                acc.update(repeating: 0, count: accRows * ldacc)
                slim_attention_queries(qrows, ldq, Int32(rows), Int32(d), scale, queries, d)
                let headKeys = kt + (b * s.kvHeads + kvh) * d * ldkt
                let lay = options.layout(head: h, layout)
                for c in lay.columns[Int(lay.rowStarts[qb])..<Int(lay.rowStarts[qb + 1])] {
                    let j0 = Int(c) * bs
                    var cols = 0, anyVisible = false
                    for r in 0..<rows {
                        let (lo, hi) = visibleKeys(query: i0 + r, layout: layout, shape: s, validKeys: lengths[b])
                        limit[r] = Int32(max(0, min(bs, s.keyLength - j0, hi - j0)))
                        first[r] = Int32(max(0, min(Int(limit[r]), lo - j0)))
                        cols = max(cols, Int(limit[r]))
                        anyVisible = anyVisible || (limit[r] > 0 && (first[r] < limit[r] || layout.globalTokens > j0))
                    }
                    // Keys past every row's limit (padding, a cache's unused tail) are never read:
                    // their memory may hold anything, and 0 · NaN would still be NaN.
                    guard anyVisible, cols > 0 else { continue }
                    let kv = ((b * s.keyLength + j0) * s.kvHeads + kvh) * d
                    slim_attention_block(queries, headKeys + j0, ldkt, vp + kv, ldk, Int32(rows), Int32(cols), Int32(d),
                                         first, limit, Int32(layout.globalTokens - j0), careful, peak, sum, acc, ldacc,
                                         scratch, isa)
                }
                for r in 0..<rows {
                    let orow = op + ((b * s.queryLength + i0 + r) * s.heads + h) * d
                    // A row that saw no key is zeros with log-sum-exp −∞; a NaN sum stays NaN in both.
                    let saw = sum[r] > 0 || sum[r].isNaN
                    let inv: Float = saw ? 1 / sum[r] : 0
                    for e in 0..<d { orow[e] = acc[r * ldacc + e] * inv }
                    lse?[(b * s.heads + h) * s.queryLength + i0 + r] = saw ? peak[r] + logf(sum[r]) : -.infinity
                }
            }
        }
    }

    /// Keys `lo ..< hi` that query `i` may see (global keys below `lo` too): padding,
    /// the causal diagonal and the window; the layout's kept blocks come on top.
    func visibleKeys(query i: Int, layout: BlockSparseLayout, shape s: AttentionShape, validKeys: Int) -> (Int, Int) {
        let p = i + s.causalOffset
        var hi = min(validKeys, layout.causal ? p + 1 : s.keyLength), lo = 0
        if let w = layout.window, i >= layout.globalTokens {
            hi = min(hi, p + w.right + 1)
            lo = p - w.left
        }
        return (lo, hi)
    }

    /// Each sequence's number of valid keys, clamped to the key length.
    func keyLengths(_ t: Tensor?, _ s: AttentionShape) -> [Int] {
        guard let t else { return Array(repeating: s.keyLength, count: s.batch) }
        let p = t.hostBytes.assumingMemoryBound(to: Int32.self)
        return (0..<s.batch).map { min(max(Int(p[$0]), 0), s.keyLength) }
    }
}

/// `Σ a[i]·b[i]` in eight lanes (a float sum the compiler may not reorder by itself).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(), i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = acc.sum()
    while i < n { sum += a[i] * b[i]; i += 1 }
    return sum
}
