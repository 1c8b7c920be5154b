import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUBackend {
    /// Block-sparse attention, one query row at a time: the scores of the row's
    /// visible keys go to a scratch row (its length grows with the kept blocks,
    /// never with the whole key length squared), then softmax and `P·V`.
    public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: BlockSparseLayout, options: AttentionOptions,
                          into o: Tensor, logSumExp: Tensor?) throws {
        let s = try AttentionShape(q: q, k: k, v: v, o: o, logSumExp: logSumExp, layout: layout, options: options)
        try requireOn(id, [q, k, v, o] + [logSumExp, options.keyLengths].compactMap { $0 }, op: "attention")
        let lengths = keyLengths(options.keyLengths, s)
        let (qp, kp, vp, op) = (q.hostFloats, k.hostFloats, v.hostFloats, o.hostFloats)
        let lse = logSumExp?.hostFloats
        let bs = layout.blockSize, qBlocks = layout.queryBlocks, d = s.headDim
        let starts = layout.rowStarts, columns = layout.columns, scale = options.scale
        parallelChunks(s.batch * s.heads * qBlocks, grain: 1) { units in
            var scores = [Float](repeating: 0, count: s.keyLength)
            scores.withUnsafeMutableBufferPointer { scores in
                for unit in units {
                    let qb = unit % qBlocks, h = (unit / qBlocks) % s.heads, b = unit / (qBlocks * s.heads)
                    let kvh = h / s.groupSize
                    let blocks = columns[Int(starts[qb])..<Int(starts[qb + 1])]
                    for i in qb * bs..<min(s.queryLength, qb * bs + bs) {
                        let qrow = qp + ((b * s.queryLength + i) * s.heads + h) * d
                        let orow = op + ((b * s.queryLength + i) * s.heads + h) * d
                        let limit = min(lengths[b], layout.causal ? i + s.causalOffset + 1 : s.keyLength)
                        // Pass 1: the scaled scores of every visible key, and their maximum.
                        var n = 0, peak = -Float.infinity
                        for c in blocks {
                            for j in Int(c) * bs..<max(Int(c) * bs, min(Int(c) * bs + bs, limit)) {
                                let sc = dotProduct(qrow, kp + ((b * s.keyLength + j) * s.kvHeads + kvh) * d, d) * scale
                                scores[n] = sc; n += 1; peak = max(peak, sc)
                            }
                        }
                        orow.update(repeating: 0, count: d)
                        let lseIndex = (b * s.heads + h) * s.queryLength + i
                        guard n > 0 else { lse?[lseIndex] = -.infinity; continue }
                        // Pass 2: the same keys in the same order, weighted into the output row.
                        var sum: Float = 0
                        n = 0
                        for c in blocks {
                            for j in Int(c) * bs..<max(Int(c) * bs, min(Int(c) * bs + bs, limit)) {
                                let p = expf(scores[n] - peak); n += 1; sum += p
                                axpy(p, vp + ((b * s.keyLength + j) * s.kvHeads + kvh) * d, orow, d)
                            }
                        }
                        let inv = 1 / sum
                        simdMap(0..<d, orow, orow) { $0 * inv }
                        lse?[lseIndex] = peak + logf(sum)
                    }
                }
            }
        }
    }

    /// Each sequence's number of valid keys, clamped to the key length.
    private func keyLengths(_ t: Tensor?, _ s: AttentionShape) -> [Int] {
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

/// `y += alpha · x` over `n` elements.
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n {
        let r = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let w = UnsafeMutableRawPointer(y + i)
        w.storeBytes(of: w.loadUnaligned(as: SIMD8<Float>.self) + alpha * r, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}
