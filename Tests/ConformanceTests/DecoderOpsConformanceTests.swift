import Foundation
import SlimConformance
import SlimCore
import Testing

/// RMSNorm, rotary embeddings and the gated MLP product: the ops a decoder block adds.
@Suite struct DecoderOpsConformance {
    @Test(arguments: Subjects.all, [[1, 1], [7, 33], [3, 576], [2, 5, 257]])
    func rmsNorm(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost
        let x = inputs.floats(shape.elementCount, scale: 3), w = inputs.floats(width)
        let out = try poisoned(backend, shape)
        try backend.rmsNorm(try backend.tensor(x, shape: shape), weight: try backend.tensor(w, shape: [width]),
                            epsilon: 1e-5, into: out)
        var want = [Double](repeating: 0, count: x.count)
        for r in 0..<shape.outerCount {
            let row = (0..<width).map { Double(x[r * width + $0]) }
            let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-5).squareRoot()
            for j in 0..<width { want[r * width + j] = row[j] * scale * Double(w[j]) }
        }
        expectClose(try backend.floats(out), want, rtol: 1e-5, atol: 1e-6, "rmsNorm seed \(inputs.seed)")
    }

    /// (heads, headDim, rotaryDim): full rotation, a partial one, and SmolLM2's heads.
    static let ropeCases: [[Int]] = [[3, 10, 10], [2, 12, 8], [9, 64, 64]]

    @Test(arguments: Subjects.all, ropeCases)
    func ropeBothStyles(_ subject: Subject, _ c: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let (heads, dim, rotary) = (c[0], c[1], c[2]), tokens = 7
        let positions: [Int32] = [0, 1, 5, 17, 255, 511, 4000]
        for style in RopeStyle.allCases {
            let x = inputs.floats(tokens * heads * dim)
            let t = try backend.tensor(x, shape: [tokens, heads, dim])
            try backend.rope(t, positions: try backend.tensor(positions, shape: [tokens], dtype: .i32), base: 10000,
                             rotaryDim: rotary, style: style)
            var want = x.map(Double.init)
            for tok in 0..<tokens {
                for h in 0..<heads {
                    let o = (tok * heads + h) * dim
                    for i in 0..<rotary / 2 {
                        let angle = Double(positions[tok]) * pow(10000.0, -2 * Double(i) / Double(rotary))
                        let (a, b) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + rotary / 2)
                        want[o + a] = Double(x[o + a]) * cos(angle) - Double(x[o + b]) * sin(angle)
                        want[o + b] = Double(x[o + a]) * sin(angle) + Double(x[o + b]) * cos(angle)
                    }
                }
            }
            // Angles up to 4000 rad carry the fp32 rounding of position × frequency (~2e-4 rad).
            expectClose(try backend.floats(t), want, rtol: 0, atol: 1e-3, "rope \(style) seed \(inputs.seed)")
            let near = want.indices.filter { $0 / (heads * dim) < 6 }  // positions ≤ 511: as a model uses them
            let got = try backend.floats(t)
            expectClose(near.map { got[$0] }, near.map { want[$0] }, rtol: 0, atol: 1e-4, "rope \(style) ≤ 511")
        }
        let t = try backend.allocate([2, heads, dim])
        #expect(throws: SlimError.self) {
            try backend.rope(t, positions: try backend.tensor([Int32(0), 1], shape: [2], dtype: .i32), base: 10000,
                             rotaryDim: dim + 2, style: .halves)
        }
    }

    /// Each activation at sizes around the 8-lane loop (a tail alone, one vector, tails after many).
    static let gateCases: [(activation: GateActivation, n: Int)] =
        GateActivation.allCases.flatMap { a in [1, 8, 1000, 4099].map { (a, $0) } }

    @Test(arguments: Subjects.all, gateCases)
    func gatedActivation(_ subject: Subject, _ c: (activation: GateActivation, n: Int)) throws {
        let backend = subject.backend, (activation, n) = c
        var inputs = Inputs(subject, activation, n)
        let g = inputs.floats(n, scale: 12), u = inputs.floats(n, scale: 3)
        let out = try poisoned(backend, [n])
        try subject.expectPaths("\(activation)", ExpectedPaths.elementwise) {
            try backend.gatedActivation(try backend.tensor(g, shape: [n]), try backend.tensor(u, shape: [n]), activation, into: out)
        }
        // e^x within ~1e-7, a division and two products: a few ulp, well inside 1e-5.
        expectClose(try backend.floats(out), zip(g, u).map { referenceGate(Double($0), activation) * Double($1) },
                    rtol: 1e-5, atol: 1e-7, "\(activation) seed \(inputs.seed)")
        if activation == .silu {  // swiglu is this op, by another name
            try backend.swiglu(try backend.tensor(g, shape: [n]), try backend.tensor(u, shape: [n]), into: out)
            expectClose(try backend.floats(out), zip(g, u).map { referenceGate(Double($0), .silu) * Double($1) },
                        rtol: 1e-5, atol: 1e-7, "swiglu seed \(inputs.seed)")
        }
    }

    /// Gates far past where tanh and e^x saturate (and past x³'s fp32 range):
    /// finite results, as the float64 formula gives, never NaN.
    @Test(arguments: Subjects.all, GateActivation.allCases)
    func largeGatesStayFinite(_ subject: Subject, _ activation: GateActivation) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, activation)
        // 19 values: the 8-lane body and the scalar tail both see them.
        let g: [Float] = [40, -40, 90, -90, 1e4, -1e4, 5e12, -5e12, 1e20, -1e20, 3e38, -3e38, .greatestFiniteMagnitude,
                          -.greatestFiniteMagnitude, 1e-30, -1e-30, 0, 88.8, -88.8]
        let u = inputs.floats(g.count, scale: 1)
        let out = try poisoned(backend, [g.count])
        try backend.gatedActivation(try backend.tensor(g, shape: [g.count]), try backend.tensor(u, shape: [g.count]), activation, into: out)
        expectClose(try backend.floats(out), zip(g, u).map { referenceGate(Double($0), activation) * Double($1) },
                    rtol: 1e-5, atol: 1e-30, "\(activation) of large gates seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func gatedActivationRefusesMismatchedSizes(_ subject: Subject) throws {
        let backend = subject.backend
        let gate = try backend.allocate([10]), up = try backend.allocate([9]), out = try backend.allocate([10])
        #expect(throws: SlimError.self) { try backend.gatedActivation(gate, up, .geluTanh, into: out) }
        #expect(throws: SlimError.self) { try backend.gatedActivation(gate, gate, .silu, into: up) }
    }
}

@Suite struct CopyElementsConformance {
    @Test(arguments: Subjects.all)
    func copiesARangeAndLeavesTheRest(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let source = inputs.floats(37), before = inputs.floats(50)
        let destination = try backend.tensor(before, shape: [50])
        try backend.copyElements(try backend.tensor(source, shape: [37]), from: 5, to: destination, at: 11, count: 23)
        var want = before
        want.replaceSubrange(11..<34, with: source[5..<28])
        #expect(try backend.floats(destination) == want)
        let src = try backend.tensor(source, shape: [37])
        #expect(throws: SlimError.self) { try backend.copyElements(src, from: 30, to: destination, at: 0, count: 8) }
        #expect(throws: SlimError.self) { try backend.copyElements(src, from: 0, to: destination, at: 45, count: 8) }
        let ints = try backend.tensor([Int32](repeating: 1, count: 50), shape: [50], dtype: .i32)
        #expect(throws: SlimError.self) { try backend.copyElements(src, from: 0, to: ints, at: 0, count: 8) }
    }
}
