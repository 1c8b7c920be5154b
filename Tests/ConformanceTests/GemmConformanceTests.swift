import SlimConformance
import SlimCore
import SlimCPU
import Testing

extension GemmCase: CustomTestStringConvertible {
    public var testDescription: String { description }
}

@Suite struct GemmConformance {
    @Test(arguments: Subjects.all, GemmCase.all)
    func gemmMatchesFloat64(_ subject: Subject, _ c: GemmCase) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let a = inputs.floats(c.m * c.k), b = inputs.floats(c.k * c.n)
        let cInit = inputs.floats(c.m * c.n), biasValues = inputs.floats(c.n)
        let ta = try backend.tensor(a, shape: c.transposeA ? [c.k, c.m] : [c.m, c.k])
        let tb = try backend.tensor(b, shape: c.transposeB ? [c.n, c.k] : [c.k, c.n])
        // With beta == 0, C is poisoned: the op must neither read nor skip it.
        let tc = c.beta == 0 ? try poisoned(backend, [c.m, c.n]) : try backend.tensor(cInit, shape: [c.m, c.n])
        let options = GemmOptions(transposeA: c.transposeA, transposeB: c.transposeB, alpha: c.alpha, beta: c.beta,
                                  bias: c.bias ? try backend.tensor(biasValues, shape: [c.n]) : nil, epilogue: c.epilogue)
        // The bias/GELU epilogue's C kernel, and the product's: Slim's own tiles
        // at the subject's GEMM level, or none where the subject runs the BLAS.
        let tiles: Set<CPUBackend.ISA> = subject.ownGemmLevel.map { [$0] } ?? []
        try subject.expectPaths("epilogue and tiles", {
            (c.bias || c.epilogue == .gelu ? ExpectedPaths.elementwise($0) : [.elementwise: []]).merging([.gemm: tiles]) { $1 }
        }) {
            try backend.gemm(ta, tb, into: tc, options: options)
        }
        let got = try backend.floats(tc)
        let want = referenceGemm(m: c.m, n: c.n, k: c.k, a: a, b: b, c: cInit, options: options, bias: c.bias ? biasValues : nil)
        let seed = inputs.seed
        let unwritten = got.filter { !$0.isFinite }.count
        #expect(unwritten == 0, "\(unwritten) elements left unwritten or not finite (seed \(seed))")
        // NMSE ≤ 1e-7 (DESIGN.md): fp32 accumulation over K ≤ 300 terms stays near 1e-13.
        let error = nmse(got, want)
        #expect(error <= 1e-7, "NMSE \(error) on \(subject.name) (seed \(seed))")
    }

    @Test(arguments: Subjects.all)
    func leadingDimensionsOfAFlattenIntoM(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let a = inputs.floats(2 * 5 * 19), w = inputs.floats(19 * 11)
        let ta = try backend.tensor(a, shape: [2, 5, 19]), tw = try backend.tensor(w, shape: [19, 11])
        let out = try poisoned(backend, [2, 5, 11])
        try backend.gemm(ta, tw, into: out, options: GemmOptions())
        let want = referenceGemm(m: 10, n: 11, k: 19, a: a, b: w, c: [], options: GemmOptions(), bias: nil)
        // Same NMSE bound as above.
        #expect(nmse(try backend.floats(out), want) <= 1e-7, "seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func mismatchedShapesAreRejected(_ subject: Subject) throws {
        let backend = subject.backend
        let a = try backend.allocate([4, 5]), b = try backend.allocate([6, 3]), c = try backend.allocate([4, 3])
        #expect(throws: SlimError.shapeMismatch(op: "gemm", detail: "op(A) is 4x5 but op(B) is 6x3: inner dimensions differ")) {
            try backend.gemm(a, b, into: c, options: GemmOptions())
        }
        let b2 = try backend.allocate([5, 3]), wrongC = try backend.allocate([3, 4])
        #expect(throws: SlimError.shapeMismatch(op: "gemm", detail: "C [3x4] must hold 4x3 with 3 innermost")) {
            try backend.gemm(a, b2, into: wrongC, options: GemmOptions())
        }
        let badBias = try backend.allocate([4])
        #expect(throws: SlimError.shapeMismatch(op: "gemm", detail: "bias [4] must have 3 elements, one per column of C")) {
            try backend.gemm(a, b2, into: c, options: GemmOptions(bias: badBias))
        }
    }
}
