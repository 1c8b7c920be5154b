import CPUKernels
import SlimCore

extension CPUBackend {
    public func quantize(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor {
        try requireOn(id, [w], op: "quantize")
        return try quantizeOnHost(w, format: format)
    }

    public func dequantize(_ w: QuantizedTensor, into out: Tensor) throws {
        try checkDequantize(w, into: out, on: id)
        try write(try QuantCodec.decode(try encoded(w), rows: w.rows, columns: w.columns, format: w.format), to: out)
    }

    /// `Y = X · Wᵀ (+ bias)` straight from the compressed rows: output rows are
    /// split across cores, and each weight row is decoded once per four tokens.
    public func quantizedMatmul(_ x: Tensor, _ w: QuantizedTensor, bias: Tensor?, into y: Tensor,
                                activations: ActivationPrecision) throws {
        let s = try QuantizedMatmulShape(x: x, w: w, bias: bias, y: y, activations: activations)
        try requireOn(id, [x, y] + w.tensors + (bias.map { [$0] } ?? []), op: "quantizedMatmul")
        let xp = x.hostFloats, yp = y.hostFloats, (m, n, k) = (s.m, s.n, s.k)
        let data = w.data.hostBytes, scales = w.scales?.hostFloats
        switch (w.format, activations) {
        case (.int8PerChannel, .f32):
            let q = data.assumingMemoryBound(to: Int8.self)
            forRows(n, tokens: m) { r, t0, tc in
                slim_qrow_int8(xp + t0 * k, k, Int32(tc), q + r * k, Int32(k), scales![r], yp + t0 * n + r, n)
            }
        case (.int8PerChannel, .int8PerRow):
            try w8a8(xp, data.assumingMemoryBound(to: Int8.self), scales!, yp, m: m, n: n, k: k)
        case (.q8_0, _):
            let bytes = data.assumingMemoryBound(to: UInt8.self), rowBytes = k / 32 * 34
            forRows(n, tokens: m) { r, t0, tc in
                slim_qrow_q8_0(xp + t0 * k, k, Int32(tc), bytes + r * rowBytes, Int32(k / 32), yp + t0 * n + r, n)
            }
        case (.int4, _), (.q4_0, _), (.q4_1, _):
            try fourBit(xp, w, yp, m: m, n: n, k: k)
        }
        if let bias { try add(y, bias, into: y) }
    }

    /// Calls `body(row, firstToken, tokenCount)` for every weight row and every
    /// group of up to four tokens, rows spread over the cores. Rows go in tiles
    /// of 16 so a tile's weights stay in cache while every token passes over them.
    private func forRows(_ n: Int, tokens m: Int, _ body: (Int, Int, Int) -> Void) {
        parallelChunks(n, grain: 16) { rows in
            for tile in stride(from: rows.lowerBound, to: rows.upperBound, by: 16) {
                for t0 in stride(from: 0, to: m, by: 4) {
                    for r in tile ..< min(tile + 16, rows.upperBound) { body(r, t0, min(4, m - t0)) }
                }
            }
        }
    }

    /// int4, Q4_0 and Q4_1: each run of 32 weights contributes `a · Σ x·u + b · Σ x`
    /// (see `slim_qrow_u4`), with (a, b) from the format's scale, zero point or minimum.
    private func fourBit(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                         m: Int, n: Int, k: Int) throws {
        let runs = k / 32
        var xsum = [Float](repeating: 0, count: m * runs)
        xsum.withUnsafeMutableBufferPointer { sums in
            for t in 0..<m { slim_run_sums(xp + t * k, Int32(runs), sums.baseAddress! + t * runs) }
        }
        let bytes = w.data.hostBytes.assumingMemoryBound(to: UInt8.self)
        let scales = w.scales?.hostFloats, zeros = w.zeros?.hostBytes.assumingMemoryBound(to: UInt8.self)
        let (kind, rowBytes, groups): (Int, Int, Int) = switch w.format {
        case let .int4(g, symmetric): (symmetric ? SLIM_U4_INT4_SYM : SLIM_U4_INT4_ASYM, k / 2, k / g)
        case .q4_0: (SLIM_U4_Q4_0, runs * 18, 0)
        default: (SLIM_U4_Q4_1, runs * 20, 0)
        }
        xsum.withUnsafeBufferPointer { sums in
            let sumsBase = sums.baseAddress!
            forRows(n, tokens: m) { r, t0, tc in
                slim_qrow_u4(xp + t0 * k, k, Int32(tc), bytes + r * rowBytes, Int32(runs), Int32(kind),
                             Int32(groups == 0 ? 0 : (runs / groups).trailingZeroBitCount), scales.map { $0 + r * groups },
                             zeros.map { $0 + r * groups }, sumsBase + t0 * runs, yp + t0 * n + r, n)
            }
        }
    }

    /// W8A8: quantize each token row to int8, integer dot products, rescale.
    private func w8a8(_ xp: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>,
                      _ yp: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) throws {
        let qx = UnsafeMutableBufferPointer<Int8>.allocate(capacity: m * k)
        let sx = UnsafeMutableBufferPointer<Float>.allocate(capacity: m)
        let dots = UnsafeMutableBufferPointer<Int32>.allocate(capacity: m * n)
        defer { qx.deallocate(); sx.deallocate(); dots.deallocate() }
        for t in 0..<m {
            sx[t] = QuantCodec.quantizeActivationRow(UnsafeBufferPointer(start: xp + t * k, count: k),
                                                     into: UnsafeMutableBufferPointer(rebasing: qx[t * k ..< (t + 1) * k]))
        }
        let qxBase = qx.baseAddress!, dotBase = dots.baseAddress!, sxBase = sx.baseAddress!
        forRows(n, tokens: m) { r, t0, tc in
            slim_qrow_i8i8(qxBase + t0 * k, k, Int32(tc), q + r * k, Int32(k), dotBase + t0 * n + r, n)
            for t in t0 ..< t0 + tc { yp[t * n + r] = sxBase[t] * scales[r] * Float(dotBase[t * n + r]) }
        }
    }
}
