import SlimConformance
import SlimCore
import Testing

@Suite struct ElementwiseConformance {
    static let sizes = [1, 7, 33, 257, 1000]

    @Test(arguments: Subjects.all, sizes)
    func addMulScaleGelu(_ subject: Subject, _ n: Int) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, n)
        let a = inputs.floats(n, scale: 4), b = inputs.floats(n, scale: 4)
        let ta = try backend.tensor(a, shape: [n]), tb = try backend.tensor(b, shape: [n])
        let seed = "seed \(inputs.seed)"

        let sum = try poisoned(backend, [n])
        try backend.add(ta, tb, into: sum)
        // One fp32 rounding: relative error ≤ 2⁻²⁴; 1e-6 leaves margin, atol for cancellation near zero.
        expectClose(try backend.floats(sum), zip(a, b).map { Double($0) + Double($1) }, rtol: 1e-6, atol: 1e-6, "add \(seed)")

        let product = try poisoned(backend, [n])
        try backend.mul(ta, tb, into: product)
        expectClose(try backend.floats(product), zip(a, b).map { Double($0) * Double($1) }, rtol: 1e-6, atol: 0, "mul \(seed)")

        let scaled = try poisoned(backend, [n])
        try backend.scale(ta, by: -0.37, into: scaled)
        expectClose(try backend.floats(scaled), a.map { Double($0) * Double(Float(-0.37)) }, rtol: 1e-6, atol: 0, "scale \(seed)")

        let g = try poisoned(backend, [n])
        try subject.expectPaths("gelu", ExpectedPaths.elementwise) { try backend.gelu(ta, into: g) }
        // erfc in fp32 is good to a few ulps; 1e-5 relative (DESIGN.md), atol for outputs near zero.
        expectClose(try backend.floats(g), a.map { referenceGelu(Double($0)) }, rtol: 1e-5, atol: 1e-7, "gelu \(seed)")
    }

    @Test(arguments: Subjects.all)
    func broadcastRepeatsOverLeadingDimensions(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let (rows, width) = (13, 37)
        let a = inputs.floats(rows * width), row = inputs.floats(width)
        let ta = try backend.tensor(a, shape: [rows, width]), tr = try backend.tensor(row, shape: [width])
        let out = try poisoned(backend, [rows, width])
        try backend.add(ta, tr, into: out)
        let want = a.enumerated().map { i, v in Double(v) + Double(row[i % width]) }
        expectClose(try backend.floats(out), want, rtol: 1e-6, atol: 1e-6, "bias add, seed \(inputs.seed)")
        try backend.mul(ta, tr, into: out)
        let wantMul = a.enumerated().map { i, v in Double(v) * Double(row[i % width]) }
        expectClose(try backend.floats(out), wantMul, rtol: 1e-6, atol: 0, "row scale, seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func mismatchedShapesAreRejected(_ subject: Subject) throws {
        let backend = subject.backend
        let a = try backend.allocate([4, 6]), b = try backend.allocate([5]), out = try backend.allocate([4, 6])
        #expect(throws: SlimError.self) { try backend.add(a, b, into: out) }
        #expect(throws: SlimError.self) { try backend.gelu(a, into: try backend.allocate([23])) }
        let ints = try backend.allocate([4, 6], dtype: .i32, name: "ids")
        #expect(throws: SlimError.self) { try backend.scale(ints, by: 2, into: out) }
    }
}
