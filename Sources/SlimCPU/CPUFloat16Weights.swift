import CPUKernels
import SlimCore

extension CPUBackend {
    /// bf16 and f16 weights (``QuantFormat/bf16``, ``QuantFormat/f16``) times
    /// fp32 activations, read as stored (cpu_w16.h): with few tokens, blocks of
    /// rows × tokens widened in registers, or on AVX-512 BF16 CPUs bf16 rows
    /// through vdpbf16ps on each token split into two bf16 planes (x ≈ hi + lo
    /// within 2⁻¹⁶·|x|: bf16 products, exact, accumulated in fp32); from
    /// ``tiledThreshold(_:)`` tokens, cache-sized tiles widened to fp32 and the
    /// platform sgemm, as the quantized formats do.
    func float16Matmul(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int) {
        if m >= tiledThreshold(w.format) {
            dequantizedTiles(xp, w, yp, m: m, n: n, k: k)
            return
        }
        let kind = Int32(w.format == .bf16 ? SLIM_W16_BF16 : SLIM_W16_F16), isa = isa.rawValue
        let data = w.data.hostBytes.assumingMemoryBound(to: UInt16.self)
        guard slim_w16_bf16_dot(kind, isa) != 0 else {
            parallelChunks(n, grain: 16) { rows in
                slim_rows_w16(xp, k, nil, Int32(m), data, Int32(k), kind, Int32(rows.lowerBound), Int32(rows.count), yp, n, isa)
            }
            return
        }
        let stride = Int(slim_w16_plane_stride(Int32(k)))
        let planes = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: m * 2 * stride)
        defer { planes.deallocate() }
        let base = planes.baseAddress!
        parallelChunks(m, grain: max(1, 8192 / max(k, 1))) { tokens in
            for t in tokens { slim_w16_split(xp + t * k, Int32(k), base + t * 2 * stride) }
        }
        parallelChunks(n, grain: 16) { rows in
            slim_rows_w16(xp, k, base, Int32(m), data, Int32(k), kind, Int32(rows.lowerBound), Int32(rows.count), yp, n, isa)
        }
    }
}
