import SlimConformance
import SlimCore
import Testing

@Suite struct NormalizationConformance {
    static let shapes: [[Int]] = [[1, 1], [7, 33], [3, 257], [2, 5, 384], [1, 1000]]

    @Test(arguments: Subjects.all, shapes)
    func softmaxRows(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims)
        let x = inputs.floats(shape.elementCount, scale: 8)
        let out = try poisoned(backend, shape)
        try backend.softmaxRows(try backend.tensor(x, shape: shape), into: out)
        // exp in fp32 is good to a few ulps and the row sum adds ~log2(width) roundings: 1e-5 relative.
        expectClose(try backend.floats(out), referenceSoftmax(x, width: shape.innermost), rtol: 1e-5, atol: 1e-8,
                    "softmax seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all, shapes)
    func layerNormWithStatistics(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost, rows = shape.outerCount
        // An offset mean tests the two-pass variance.
        let x = inputs.floats(shape.elementCount, scale: 3).map { $0 + 5 }
        let gamma = inputs.floats(width), beta = inputs.floats(width)
        let out = try poisoned(backend, shape)
        let stats = NormStatistics(mean: try poisoned(backend, [rows]), rstd: try poisoned(backend, [rows]))
        try backend.layerNorm(try backend.tensor(x, shape: shape), gamma: try backend.tensor(gamma, shape: [width]),
                              beta: try backend.tensor(beta, shape: [width]), epsilon: 1e-5, into: out, saving: stats)
        let want = referenceLayerNorm(x, gamma: gamma, beta: beta, eps: 1e-5, width: width)
        // Outputs are O(1); fp32 sums over ≤1000 terms lose ~1e-6 relative, and
        // (x − mean) cancels against the offset of 5: atol and rtol 1e-5.
        expectClose(try backend.floats(out), want.y, rtol: 1e-5, atol: 1e-5, "layerNorm seed \(inputs.seed)")
        // A sequential fp32 sum of n terms is good to n·u relative (Higham's γₙ, u = 2⁻²⁴): the bound, not a guess
        // (1e-6 flat failed once at width 1000, seed 2066832600976137338, by 1.2e-6 relative).
        let sumBound = Double(width) * 0x1p-24 + 1e-7
        expectClose(try backend.floats(stats.mean), want.mean, rtol: sumBound, atol: 1e-6, "mean seed \(inputs.seed)")
        expectClose(try backend.floats(stats.rstd), want.rstd, rtol: max(1e-5, sumBound), atol: 0, "rstd seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func layerNormWithoutStatisticsAndBadShapes(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let x = inputs.floats(3 * 10)
        let g = [Float](repeating: 1, count: 10), bt = [Float](repeating: 0, count: 10)
        let out = try poisoned(backend, [3, 10])
        let tg = try backend.tensor(g, shape: [10]), tb = try backend.tensor(bt, shape: [10])
        try backend.layerNorm(try backend.tensor(x, shape: [3, 10]), gamma: tg, beta: tb, epsilon: 1e-5, into: out, saving: nil)
        expectClose(try backend.floats(out), referenceLayerNorm(x, gamma: g, beta: bt, eps: 1e-5, width: 10).y,
                    rtol: 1e-5, atol: 1e-5, "layerNorm seed \(inputs.seed)")
        let wrongGamma = try backend.allocate([9])
        #expect(throws: SlimError.self) {
            try backend.layerNorm(out, gamma: wrongGamma, beta: tb, epsilon: 1e-5, into: out, saving: nil)
        }
        #expect(throws: SlimError.self) { try backend.softmaxRows(out, into: try backend.allocate([10, 3])) }
    }
}
