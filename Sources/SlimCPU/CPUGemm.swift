import CPUKernels
import SlimCore
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

extension CPUBackend {
    /// GEMM through Slim's own tiles or the platform BLAS (``GemmPath``: by the
    /// CPU's features, never by a library's table of CPU models), run
    /// single-threaded on each core's share of C, with the bias and GELU
    /// epilogue applied to that share while it is in cache.
    ///
    /// Splitting the work ourselves, rather than letting OpenBLAS thread,
    /// keeps one thread pool: OpenBLAS's workers spin for milliseconds after
    /// each call, and took the cores from every op that followed (MiniLM ran
    /// at half speed).
    public func gemm(_ a: Tensor, _ b: Tensor, into c: Tensor, options: GemmOptions) throws {
        let s = try GemmShape(a: a, b: b, c: c, options: options)
        try requireOn(id, [a, b, c] + (options.bias.map { [$0] } ?? []), op: "gemm")
        let engine = try gemmEngine()
        PlatformBLAS.useOneThreadPerCall()
        let (ap, bp, cp) = (a.hostFloats, b.hostFloats, c.hostFloats)
        let bias = options.bias?.hostFloats, gelu: Int32 = options.epilogue == .gelu ? 1 : 0, isa = isa.rawValue
        let (ta, tb) = (options.transposeA, options.transposeB)
        let cores = CPUInfo.current.cores
        // Split C along its longer side, so each core reads only its share of the
        // larger operand (B's columns for a few tokens, A's rows for many).
        if !ta && s.m >= 8 * cores && s.m >= s.n {
            parallelChunks(s.m, grain: (s.m + cores - 1) / cores) { rows in
                let cr = cp + rows.lowerBound * s.n
                multiply(m: rows.count, n: s.n, k: s.k, ap + rows.lowerBound * s.k, lda: s.k, ta: false,
                         bp, ldb: tb ? s.k : s.n, tb: tb, cr, ldc: s.n, options, engine)
                if bias != nil || gelu != 0 { slim_bias_gelu(cr, Int32(rows.count), Int32(s.n), s.n, bias, gelu, isa) }
            }
        } else {
            let grain = max(64, (s.n + cores - 1) / cores)
            parallelChunks(s.n, grain: grain) { cols in
                let j0 = cols.lowerBound
                let cc = cp + j0
                multiply(m: s.m, n: cols.count, k: s.k, ap, lda: ta ? s.m : s.k, ta: ta,
                         bp + (tb ? j0 * s.k : j0), ldb: tb ? s.k : s.n, tb: tb, cc, ldc: s.n, options, engine)
                if bias != nil || gelu != 0 { slim_bias_gelu(cc, Int32(s.m), Int32(cols.count), s.n, bias.map { $0 + j0 }, gelu, isa) }
            }
        }
    }

    /// One single-threaded product on a block of C (`ldc` apart), honouring alpha and beta.
    private func multiply(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, ta: Bool,
                          _ b: UnsafePointer<Float>, ldb: Int, tb: Bool, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                          _ options: GemmOptions, _ engine: GemmPath.Engine) {
        if engine == .own && m == 1 && !ta {
            // A decode step: Slim's unpacked matrix-vector kernels (packing B would stream it twice).
            slim_sgemv(tb ? 1 : 0, Int32(n), Int32(k), options.alpha, a, b, ldb, options.beta, c, isa.rawValue)
            return
        }
        if engine == .own {
            // Slim's tiles never read C when beta is 0.
            slim_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), options.alpha, a, lda, b, ldb,
                       options.beta, c, ldc, isa.rawValue)
            return
        }
        if options.beta == 0 {
            // BLAS multiplies C by beta; 0 · NaN would leak garbage from an unwritten C.
            for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) }
        }
        if m == 1 && !ta {
            // A single row is a matrix-vector product; sgemv streams B faster
            // than sgemm does for M = 1 (a decode step).
            cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, Int32(tb ? n : k), Int32(tb ? k : n), options.alpha,
                        b, Int32(ldb), a, 1, options.beta, c, 1)
        } else {
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), options.alpha, a, Int32(lda), b, Int32(ldb), options.beta, c, Int32(ldc))
        }
    }
}

extension CPUBackend {
    /// One single-threaded row-major fp32 product, `C = alpha · op(A) · op(B) + beta · C`,
    /// on `engine` (resolve it once per op with ``gemmEngine()``): for ops that
    /// split their own work (attention's blocks, the quantized tiles).
    func sgemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
               _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
               engine: GemmPath.Engine) {
        if engine == .own {
            slim_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, lda, b, ldb, beta, c, ldc, isa.rawValue)
        } else {
            PlatformBLAS.useOneThreadPerCall()
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
}

/// The platform BLAS's threading, set once per process.
enum PlatformBLAS {
    private static let oneThread: Void = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }()

    /// Makes every BLAS call single-threaded: the CPU backend spreads the work over the cores itself.
    static func useOneThreadPerCall() { _ = oneThread }
}
