import CPUKernels
import SlimCore
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

extension CPUBackend {
    public func quantize(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor {
        try quantizeOnHost(w, format: format)
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
        if w.format.isFloat16 {
            float16Matmul(xp, w, yp, m: m, n: n, k: k)
            if let bias { try add(y, bias, into: y) }
            return
        }
        if w.format.blockKernelKind != nil {
            try kQuantMatmul(xp, w, yp, m: m, n: n, k: k, activations: activations)
            if let bias { try add(y, bias, into: y) }
            return
        }
        if activations == .f32, m >= tiledThreshold(w.format) {
            dequantizedTiles(xp, w, yp, m: m, n: n, k: k)
            if let bias { try add(y, bias, into: y) }
            return
        }
        switch (w.format, activations) {
        case (.int8PerChannel, .f32):
            let q = data.assumingMemoryBound(to: Int8.self), rowScales = scales!, isa = isa.rawValue
            if self.isa.int8FixedPoint {
                int8FixedPoint(xp, q, rowScales, yp, m: m, n: n, k: k)
            } else {
                parallelChunks(n, grain: 16) { rows in
                    slim_rows_int8(xp, k, Int32(m), q, Int32(k), rowScales, Int32(rows.lowerBound), Int32(rows.count), yp, n, isa)
                }
            }
        case (.int8PerChannel, .int8PerRow):
            w8a8(xp, data.assumingMemoryBound(to: Int8.self), scales!, bias: bias?.hostFloats, yp, m: m, n: n, k: k)
            return
        case (_, .int8PerRow), (_, .int8PerBlock):
            runsInt8(xp, w, yp, m: m, n: n, k: k, perBlock: activations == .int8PerBlock)
        case (.q8_0, _), (.int4, _), (.q4_0, _), (.q4_1, _):
            runsFloat(xp, w, yp, m: m, n: n, k: k)
        case (.q4_K, _), (.q6_K, _), (.q5_0, _), (.q5_1, _):
            preconditionFailure("k-quants and Q5 blocks run in kQuantMatmul")
        case (.bf16, _), (.f16, _):
            preconditionFailure("16-bit float weights run in float16Matmul")
        }
        if let bias { try add(y, bias, into: y) }
    }

    /// From this many tokens, weight-only products decode cache-sized tiles of W
    /// (about 2 MiB, never the whole weight) and multiply them with the platform
    /// sgemm: with many tokens per weight, sgemm's blocking beats decoding in
    /// registers, as in onnxruntime's MatMulNBits.
    /// int8 weights on AVX-512 VNNI never take the tiles: the fixed-point
    /// kernel's three vpdpbusd per 64 weights (21 multiply-adds per instruction
    /// against an fp32 FMA's 16) keep it ahead at any M (4096x4096 on a 2-core
    /// Zen 4: 3.5 ms at 24 tokens vs 10.7 tiled, 9.5 vs 31 at 64, 19 vs 28 at 128).
    func tiledThreshold(_ format: QuantFormat) -> Int {
        format == .int8PerChannel && isa.int8FixedPoint ? Int.max : 24
    }

    func dequantizedTiles(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                                  m: Int, n: Int, k: Int) {
        let g = RowGeometry(w)
        // Each core decodes its own tiles (half its L2 or more) and multiplies them single-threaded.
        let cores = CPUInfo.current.cores
        let tileRows = min((n + cores - 1) / cores, max(16, (1 << 20) / (4 * k)))
        let bytes = w.data.hostBytes.assumingMemoryBound(to: UInt8.self)
        let scales = w.scales?.hostFloats, zeros = w.zeros?.hostBytes.assumingMemoryBound(to: UInt8.self)
        PlatformBLAS.useOneThreadPerCall()
        let tiles = (n + tileRows - 1) / tileRows, isa = isa.rawValue
        parallelChunks(tiles, grain: 1) { range in
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * k)
            defer { tile.deallocate() }
            for t in range {
                let first = t * tileRows, rows = min(tileRows, n - first)
                for i in 0..<rows where g.kQuant != nil {
                    slim_kquant_dequant_row(bytes + (first + i) * g.rowBytes, Int32(k), g.kQuant!, tile + i * k, isa)
                }
                for i in 0..<rows where g.w16 != nil {
                    slim_w16_widen(w.data.hostBytes.assumingMemoryBound(to: UInt16.self) + (first + i) * k, k, g.w16!, tile + i * k, isa)
                }
                for i in 0..<rows where g.kQuant == nil && g.w16 == nil {
                    let r = first + i
                    slim_dequant_row(bytes + r * g.rowBytes, Int32(k), Int32(g.kind), Int32(g.groupShift),
                                     g.kind == SLIM_ROW_INT8 ? scales![r] : 0, scales.map { $0 + r * g.groups },
                                     zeros.map { $0 + r * g.groups }, tile + i * k, isa)
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(rows), Int32(k), 1,
                            xp, Int32(k), tile, Int32(k), 0, yp + first, Int32(n))
            }
        }
    }

    /// Int8 weights with fp32 activations on AVX-512 VNNI: each token row
    /// becomes 22-bit fixed point once per call (three digit planes and their
    /// sums, see `QuantizedMatmulShape`), then every core multiplies its rows
    /// in exact integers through vpdpbusd, three per 64 weights and token.
    private func int8FixedPoint(_ xp: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Int8>,
                                _ rowScales: UnsafeMutablePointer<Float>, _ yp: UnsafeMutablePointer<Float>,
                                m: Int, n: Int, k: Int) {
        let stride = Int(slim_i22_stride(Int32(k)))
        let planes = UnsafeMutableBufferPointer<Int8>.allocate(capacity: m * 3 * stride)
        let sums = UnsafeMutableBufferPointer<Int32>.allocate(capacity: m * 3)
        let sx = UnsafeMutableBufferPointer<Double>.allocate(capacity: m)
        defer { planes.deallocate(); sums.deallocate(); sx.deallocate() }
        let planeBase = planes.baseAddress!, sumBase = sums.baseAddress!, sxBase = sx.baseAddress!
        let isa = isa.rawValue
        parallelChunks(m, grain: max(1, 8192 / max(k, 1))) { rows in
            for t in rows {
                sxBase[t] = slim_quantize_row_i22(xp + t * k, Int32(k), planeBase + t * 3 * stride, sumBase + 3 * t, isa)
            }
        }
        parallelChunks(n, grain: 16) { rows in
            slim_rows_int8_i22(planeBase, sxBase, sumBase, Int32(m), Int32(k), w, rowScales, Int32(rows.lowerBound),
                               Int32(rows.count), yp, n, isa)
        }
    }

    /// Q4_K, Q6_K, Q5_0 and Q5_1 (cpu_kquants.h): (super-)blocks decoded on the stack once per
    /// four tokens; from 24 fp32 tokens, decoded cache-sized tiles and sgemm as for
    /// the other formats; int8 activations as runs of 32 with exact integer dots.
    private func kQuantMatmul(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                              m: Int, n: Int, k: Int, activations: ActivationPrecision) throws {
        let kind = w.format.blockKernelKind!, rowBytes = w.format.ggufRowBytes(columns: k)!
        let bytes = w.data.hostBytes.assumingMemoryBound(to: UInt8.self), isa = isa.rawValue
        switch activations {
        case .f32 where m >= tiledThreshold(w.format):
            dequantizedTiles(xp, w, yp, m: m, n: n, k: k)
        case .f32:
            parallelChunks(n, grain: 16) { rows in
                slim_rows_kquant(xp, k, Int32(m), bytes, rowBytes, Int32(rows.lowerBound), Int32(rows.count), Int32(k), kind, yp, n, isa)
            }
        case .int8PerRow, .int8PerBlock:
            let runs = k / 32
            let qx = UnsafeMutableBufferPointer<Int8>.allocate(capacity: m * k)
            let xd = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * runs)
            let xsum = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * runs)
            defer { qx.deallocate(); xd.deallocate(); xsum.deallocate() }
            let qxBase = qx.baseAddress!, xdBase = xd.baseAddress!, xsumBase = xsum.baseAddress!
            let perBlock: Int32 = activations == .int8PerBlock ? 1 : 0
            parallelChunks(m, grain: max(1, 8192 / max(k, 1))) { rows in
                for t in rows {
                    slim_quantize_runs_i8(xp + t * k, Int32(k), perBlock, qxBase + t * k, xdBase + t * runs, xsumBase + t * runs, isa)
                }
            }
            parallelChunks(n, grain: 16) { rows in
                slim_rows_kquant_i8(qxBase, k, Int32(m), xdBase, xsumBase, bytes, rowBytes, Int32(rows.lowerBound), Int32(rows.count),
                                    Int32(k), kind, yp, n, isa)
            }
        }
    }

    /// Q8_0 and the 4-bit kinds with fp32 activations: each run of 32 weights
    /// contributes `a · Σ x·u + b · Σ x` (see `slim_qrow_u4`), with (a, b) from
    /// the format's scale, zero point or minimum.
    private func runsFloat(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                           m: Int, n: Int, k: Int) {
        let runs = k / 32, g = RowGeometry(w)
        let xsum = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * runs)
        defer { xsum.deallocate() }
        for t in 0..<m { slim_run_sums(xp + t * k, Int32(runs), xsum.baseAddress! + t * runs) }
        let bytes = w.data.hostBytes.assumingMemoryBound(to: UInt8.self)
        let scales = w.scales?.hostFloats, zeros = w.zeros?.hostBytes.assumingMemoryBound(to: UInt8.self)
        let sums = xsum.baseAddress!, isa = isa.rawValue
        parallelChunks(n, grain: 16) { rows in
            slim_rows_runs(xp, k, Int32(m), sums, bytes, g.rowBytes, Int32(rows.lowerBound), Int32(rows.count), Int32(runs),
                           Int32(g.kind), Int32(g.groupShift), scales, zeros, Int32(g.groups), yp, n, isa)
        }
    }

    /// Quantizes each token row to int8 (see `QuantizedMatmulShape`): the
    /// activations of every int8-activation product.
    private func quantizedActivations(_ xp: UnsafeMutablePointer<Float>, m: Int, k: Int)
        -> (q: UnsafeMutableBufferPointer<Int8>, scales: UnsafeMutableBufferPointer<Float>) {
        let qx = UnsafeMutableBufferPointer<Int8>.allocate(capacity: m * k)
        let sx = UnsafeMutableBufferPointer<Float>.allocate(capacity: m)
        let isa = isa.rawValue
        parallelChunks(m, grain: max(1, 8192 / max(k, 1))) { rows in
            for t in rows {
                sx[t] = slim_quantize_row_i8(xp + t * k, Int32(k), qx.baseAddress! + t * k, isa)
            }
        }
        return (qx, sx)
    }

    /// W8A8: int8 activations times int8 weights, integer dot products,
    /// rescaled; each core takes a share of the weight rows.
    private func w8a8(_ xp: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>,
                      bias: UnsafeMutablePointer<Float>?, _ yp: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        let (qx, sx) = quantizedActivations(xp, m: m, k: k)
        defer { qx.deallocate(); sx.deallocate() }
        let qxBase = qx.baseAddress!, sxBase = sx.baseAddress!
        let isa = isa.rawValue
        // Chunks of 64 rows or more: a core that gets to the product late
        // (another process had it) leaves its chunks to the one already running.
        parallelChunks(n, grain: 64) { rows in
            let r0 = rows.lowerBound
            slim_gemm_w8a8(qxBase, sxBase, Int32(m), q + r0 * k, scales + r0, Int32(rows.count), Int32(k),
                           bias.map { $0 + r0 }, yp + r0, n, isa)
        }
    }

    /// Int8 activations times runs of 32 weights (llama.cpp's and MatMulNBits'
    /// fast path): exact integer dot products per run, each scaled once by the
    /// run's weight scale times its activation scale (one per row, or one per
    /// run with `perBlock`).
    private func runsInt8(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                          m: Int, n: Int, k: Int, perBlock: Bool) {
        let runs = k / 32, g = RowGeometry(w)
        let qx = UnsafeMutableBufferPointer<Int8>.allocate(capacity: m * k)
        let xd = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * runs)
        let xsum = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * runs)
        defer { qx.deallocate(); xd.deallocate(); xsum.deallocate() }
        let qxBase = qx.baseAddress!, xdBase = xd.baseAddress!, xsumBase = xsum.baseAddress!
        let isa = isa.rawValue
        parallelChunks(m, grain: max(1, 8192 / max(k, 1))) { rows in
            for t in rows {
                slim_quantize_runs_i8(xp + t * k, Int32(k), perBlock ? 1 : 0, qxBase + t * k, xdBase + t * runs, xsumBase + t * runs,
                                      isa)
            }
        }
        let bytes = w.data.hostBytes.assumingMemoryBound(to: UInt8.self)
        let scales = w.scales?.hostFloats, zeros = w.zeros?.hostBytes.assumingMemoryBound(to: UInt8.self)
        parallelChunks(n, grain: 16) { rows in
            slim_rows_runs_i8(qxBase, k, Int32(m), xdBase, xsumBase, bytes, g.rowBytes, Int32(rows.lowerBound), Int32(rows.count),
                              Int32(runs), Int32(g.kind), Int32(g.groupShift), scales, zeros, Int32(g.groups), yp, n, isa)
        }
    }
}

/// Where a row of a quantized weight lives and how the C kernels read it.
struct RowGeometry {
    /// SLIM_ROW_INT8, SLIM_ROW_Q8_0 or a SLIM_U4_ kind.
    let kind: Int
    let rowBytes: Int
    /// Scale groups per row (int4), 0 where the scales are inside the blocks.
    let groups: Int
    /// log2 of the 32-weight runs per scale group (int4).
    let groupShift: Int
    /// A SLIM_K_ kind for the k-quants and Q5 blocks (cpu_kquants.h), which have their own kernels.
    var kQuant: Int32? = nil
    /// SLIM_W16_BF16 or SLIM_W16_F16 for 16-bit float weights (cpu_w16.h), which have their own kernels.
    var w16: Int32? = nil

    init(_ w: QuantizedTensor) {
        let k = w.columns
        switch w.format {
        case .int8PerChannel: (kind, rowBytes, groups, groupShift) = (Int(SLIM_ROW_INT8), k, 0, 0)
        case .q8_0: (kind, rowBytes, groups, groupShift) = (Int(SLIM_ROW_Q8_0), k / 32 * 34, 0, 0)
        case let .int4(g, symmetric):
            (kind, rowBytes, groups, groupShift) = (symmetric ? SLIM_U4_INT4_SYM : SLIM_U4_INT4_ASYM, k / 2, k / g, (g / 32).trailingZeroBitCount)
        case .q4_0: (kind, rowBytes, groups, groupShift) = (SLIM_U4_Q4_0, k / 32 * 18, 0, 0)
        case .q4_1: (kind, rowBytes, groups, groupShift) = (SLIM_U4_Q4_1, k / 32 * 20, 0, 0)
        case .q4_K, .q6_K, .q5_0, .q5_1:
            (kind, rowBytes, groups, groupShift) = (-1, w.format.ggufRowBytes(columns: k)!, 0, 0)
            kQuant = w.format.blockKernelKind
        case .bf16, .f16:
            (kind, rowBytes, groups, groupShift) = (-1, 2 * k, 0, 0)
            w16 = Int32(w.format == .bf16 ? SLIM_W16_BF16 : SLIM_W16_F16)
        }
    }
}

extension QuantFormat {
    /// The SLIM_K_ kind of the formats cpu_kquants.h multiplies (k-quants and Q5 blocks), nil for the others.
    var blockKernelKind: Int32? {
        switch self {
        case .q4_K: Int32(SLIM_K_Q4_K)
        case .q6_K: Int32(SLIM_K_Q6_K)
        case .q5_0: Int32(SLIM_K_Q5_0)
        case .q5_1: Int32(SLIM_K_Q5_1)
        default: nil
        }
    }
}
