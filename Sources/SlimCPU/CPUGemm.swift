import SlimCore
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

extension CPUBackend {
    /// GEMM through the platform BLAS (OpenBLAS measured faster here than any
    /// Swift kernel we wrote), then the bias and GELU epilogue in one parallel pass.
    public func gemm(_ a: Tensor, _ b: Tensor, into c: Tensor, options: GemmOptions) throws {
        let s = try GemmShape(a: a, b: b, c: c, options: options)
        try requireOn(id, [a, b, c] + (options.bias.map { [$0] } ?? []), op: "gemm")
        let (m, n, k) = (Int32(s.m), Int32(s.n), Int32(s.k))
        let cp = c.hostFloats
        if options.beta == 0 {
            // BLAS multiplies C by beta; 0 · NaN would leak garbage from an unwritten C.
            cp.update(repeating: 0, count: s.m * s.n)
        }
        if s.m == 1 {
            // A single row is a matrix-vector product; OpenBLAS's sgemv streams B
            // faster than its sgemm does for M = 1 (a decode step).
            cblas_sgemv(CblasRowMajor, options.transposeB ? CblasNoTrans : CblasTrans,
                        options.transposeB ? n : k, options.transposeB ? k : n, options.alpha,
                        b.hostFloats, options.transposeB ? k : n, a.hostFloats, 1, options.beta, cp, 1)
        } else {
            cblas_sgemm(CblasRowMajor,
                        options.transposeA ? CblasTrans : CblasNoTrans,
                        options.transposeB ? CblasTrans : CblasNoTrans,
                        m, n, k, options.alpha,
                        a.hostFloats, options.transposeA ? m : k,
                        b.hostFloats, options.transposeB ? k : n,
                        options.beta, cp, n)
        }
        guard options.bias != nil || options.epilogue != .none else { return }
        let bias = options.bias?.hostFloats
        let gelu = options.epilogue == .gelu
        parallelChunks(s.m, grain: max(1, 16_384 / s.n)) { rows in
            for r in rows {
                let row = cp + r * s.n
                if let bias { for j in 0..<s.n { row[j] += bias[j] } }
                if gelu { for j in 0..<s.n { row[j] = geluExact(row[j]) } }
            }
        }
    }
}
