import SlimCore

extension ConformanceCatalogue {
    /// GEMM on every ``GemmCase``; the quantized product (fp32, int8-per-row and
    /// int8-per-block activations) and dequantize on every ``QuantCase``.
    static func linearChecks(quick: Bool) -> [ConformanceCheck] {
        let gemms = quick ? GemmCase.all.filter { $0.m * $0.n * $0.k <= 20_000 } : GemmCase.all
        let tokenCounts = quick ? [1, 3, 9] : [1, 2, 3, 8, 9, 64]
        var checks = gemms.map { c in
            ConformanceCheck(op: "gemm", detail: c.description) { backend, rng in try gemm(c, backend, &rng) }
        }
        for c in QuantCase.all {
            // Per-block activations need K a multiple of 32; 16-bit float weights take fp32
            // activations only (the suite checks both refusals).
            for precision in ActivationPrecision.allCases
            where (precision != .int8PerBlock || c.k % 32 == 0) && (precision == .f32 || !c.format.isFloat16) {
                for m in tokenCounts {
                    checks.append(ConformanceCheck(op: "quantizedMatmul", detail: "\(c) \(precision) M=\(m)") { backend, rng in
                        try quantizedMatmul(c, precision, m: m, backend, &rng)
                    })
                }
            }
            checks.append(ConformanceCheck(op: "dequantize", detail: c.description) { backend, rng in
                try dequantize(c, backend, &rng)
            })
        }
        return checks
    }

    static func gemm(_ c: GemmCase, _ backend: any Backend, _ rng: inout SeededGenerator) throws -> Double {
        let a = draw(c.m * c.k, &rng), b = draw(c.k * c.n, &rng), cInit = draw(c.m * c.n, &rng), bias = draw(c.n, &rng)
        let ta = try backend.tensor(a, shape: c.transposeA ? [c.k, c.m] : [c.m, c.k])
        let tb = try backend.tensor(b, shape: c.transposeB ? [c.n, c.k] : [c.k, c.n])
        // With beta == 0, C is poisoned: the op must neither read nor skip it.
        let tc = c.beta == 0 ? try poisoned(backend, [c.m, c.n]) : try backend.tensor(cInit, shape: [c.m, c.n])
        let options = GemmOptions(transposeA: c.transposeA, transposeB: c.transposeB, alpha: c.alpha, beta: c.beta,
                                  bias: c.bias ? try backend.tensor(bias, shape: [c.n]) : nil, epilogue: c.epilogue)
        try backend.gemm(ta, tb, into: tc, options: options)
        let want = referenceGemm(m: c.m, n: c.n, k: c.k, a: a, b: b, c: cInit, options: options, bias: c.bias ? bias : nil)
        return nmse(try backend.floats(tc), want)
    }

    /// Against the float64 product of the weights decoded from the backend's own
    /// bytes and, for int8 activations, of the activations quantized with the
    /// host's rounding (``QuantCodec/quantizeActivationRow(_:into:)``).
    static func quantizedMatmul(_ c: QuantCase, _ precision: ActivationPrecision, m: Int, _ backend: any Backend,
                                _ rng: inout SeededGenerator) throws -> Double {
        let (n, k) = (29, c.k)
        let w = try backend.quantize(try backend.tensor(draw(n * k, &rng), shape: [n, k], name: "w"), format: c.format)
        let deq = ReferenceWeights(try backend.encoded(w), rows: n, columns: k, format: c.format).values
        let x = draw(m * k, scale: 3, &rng), biasValues = draw(n, &rng)
        // Bias on odd token counts, so both epilogues run.
        let bias = m % 2 == 1 ? try backend.tensor(biasValues, shape: [n]) : nil
        let y = try poisoned(backend, [m, n])
        try backend.quantizedMatmul(try backend.tensor(x, shape: [m, k]), w, bias: bias, into: y, activations: precision)
        let block = precision == .int8PerBlock ? 32 : k
        var want = [Double](repeating: 0, count: m * n)
        for t in 0..<m {
            for r in 0..<n where bias != nil { want[t * n + r] = Double(biasValues[r]) }
            for b in stride(from: 0, to: k, by: block) {
                let run = Array(x[t * k + b ..< t * k + b + block])
                var levels = run.map(Double.init), runScale = 1.0
                if precision != .f32 {
                    var qx = [Int8](repeating: 0, count: block)
                    var sx = run.withUnsafeBufferPointer { r in qx.withUnsafeMutableBufferPointer { QuantCodec.quantizeActivationRow(r, into: $0) } }
                    if precision == .int8PerBlock { sx = Float(Float16(sx)) }
                    (levels, runScale) = (qx.map(Double.init), Double(sx))
                }
                for r in 0..<n {
                    var dot = 0.0
                    for j in 0..<block { dot += levels[j] * deq[r * k + b + j] }
                    want[t * n + r] += runScale * dot
                }
            }
        }
        return nmse(try backend.floats(y), want)
    }

    static func dequantize(_ c: QuantCase, _ backend: any Backend, _ rng: inout SeededGenerator) throws -> Double {
        let w = try backend.quantize(try backend.tensor(draw(5 * c.k, &rng), shape: [5, c.k]), format: c.format)
        let out = try poisoned(backend, [5, c.k])
        try backend.dequantize(w, into: out)
        return nmse(try backend.floats(out), ReferenceWeights(try backend.encoded(w), rows: 5, columns: c.k, format: c.format).values)
    }
}
