import CPUKernels
import SlimCore

extension CPUBackend {
    /// bf16 and f16 weights (``QuantFormat/bf16``, ``QuantFormat/f16``) times
    /// fp32 activations, read as stored (cpu_w16.h): with few tokens, blocks of
    /// rows × tokens widened in registers (exact) and multiplied in fp32; from
    /// ``tiledThreshold(_:)`` tokens, cache-sized tiles widened to fp32 and the
    /// platform sgemm, as the quantized formats do.
    ///
    /// Not vdpbf16ps, though cpu_w16.c has that kernel: keeping fp32 activations
    /// exact takes three bf16 parts per activation (two keep 16 bits), so three
    /// vdpbf16ps per 32 weights, and on a 2-core Zen 4 (one thread, 4096x4096,
    /// weights from memory, machine under load) that was never faster than
    /// widening: equal at one token (2.1–2.2 ms), 1.3–2.3x slower at 2, 4 and 16
    /// tokens (16 tokens: 24.4 ms with three parts, 15.0 with two, 7.6 widened).
    /// `scripts/w16_kernels_bench.c` measures it again on another CPU.
    func float16Matmul(_ xp: UnsafeMutablePointer<Float>, _ w: QuantizedTensor, _ yp: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int) {
        if m >= tiledThreshold(w.format) {
            dequantizedTiles(xp, w, yp, m: m, n: n, k: k)
            return
        }
        let kind = Int32(w.format == .bf16 ? SLIM_W16_BF16 : SLIM_W16_F16), isa = isa.rawValue
        let data = w.data.hostBytes.assumingMemoryBound(to: UInt16.self)
        parallelChunks(n, grain: 16) { rows in
            slim_rows_w16(xp, k, nil, 0, Int32(m), data, Int32(k), kind, Int32(rows.lowerBound), Int32(rows.count), yp, n, isa)
        }
    }
}
