import Foundation
import SlimConformance
import SlimCore
import Testing

/// The rotary embedding from a table of inverse frequencies (Llama 3.x's
/// `llama3` scaling, `linear` scaling, the default table), at the positions a
/// long context reaches.
@Suite struct RopeTableConformance {
    struct Case: Sendable, CustomTestStringConvertible {
        var heads: Int, headDim: Int, rotaryDim: Int, base: Float, scaling: RopeScaling?
        var testDescription: String { "\(heads)×\(headDim) rotary \(rotaryDim) \(scaling.map { "\($0)" } ?? "default")" }
    }

    /// Head dims with and without an unrotated tail, none a power of two but 256;
    /// 40 and 128 pairs are no multiple of the OpenCL work-group (min(64, pairs rounded up)).
    static let cases: [Case] = [
        Case(heads: 3, headDim: 80, rotaryDim: 64, base: 500_000,
             scaling: .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192)),
        Case(heads: 3, headDim: 80, rotaryDim: 80, base: 10_000, scaling: .linear(factor: 4)),
        Case(heads: 3, headDim: 256, rotaryDim: 256, base: 1_000_000, scaling: nil),
        Case(heads: 5, headDim: 78, rotaryDim: 26, base: 10_000,
             scaling: .llama3(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 64)),
    ]

    @Test(arguments: Subjects.all, cases)
    func matchesFloat64(_ subject: Subject, _ c: Case) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, c)
        let tokens = 7, pairs = c.rotaryDim / 2
        // Both ends of an 8k context and random positions between.
        let positions: [Int32] = [0, 8191] + (0..<tokens - 2).map { _ in Int32.random(in: 1...8190, using: &inputs.rng) }
        let table = RotaryFrequencies.inverse(base: c.base, rotaryDim: c.rotaryDim, scaling: c.scaling)
        let frequencies = try backend.tensor(table, shape: [pairs], name: "inverseFrequencies")
        for style in RopeStyle.allCases {
            let x = inputs.floats(tokens * c.heads * c.headDim, scale: 2)
            let t = try backend.tensor(x, shape: [tokens, c.heads, c.headDim])
            try backend.rope(t, positions: try backend.tensor(positions, shape: [tokens], dtype: .i32),
                             inverseFrequencies: frequencies, style: style)
            var want = x.map(Double.init)
            var bounds = [Double](repeating: 0, count: x.count)  // features past the rotary ones: untouched, exactly
            for tok in 0..<tokens {
                for h in 0..<c.heads {
                    let o = (tok * c.heads + h) * c.headDim
                    for i in 0..<pairs {
                        // The angle is the fp32 product by definition (transformers multiplies
                        // positions by inv_freq in float32): its rounding, up to 2.4e-4 rad at
                        // 8191, is part of the op. Everything after it is float64 here.
                        let angle = Double(Float(positions[tok]) * table[i])
                        let (a, b) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + pairs)
                        let x0 = Double(x[o + a]), x1 = Double(x[o + b])
                        want[o + a] = x0 * cos(angle) - x1 * sin(angle)
                        want[o + b] = x0 * sin(angle) + x1 * cos(angle)
                        // fp32 cos/sin (OpenCL 1.2: within 4 ulp, 2.4e-7), two products and a sum:
                        // about 5e-7·(|x0| + |x1|); 2e-6 leaves a factor 4. Computing the
                        // angle in double instead would miss by up to 4.9e-4·|x|.
                        bounds[o + a] = 2e-6 * (abs(x0) + abs(x1))
                        bounds[o + b] = bounds[o + a]
                    }
                }
            }
            expectWithin(try backend.floats(t), want, bounds: bounds, "rope table \(style) seed \(inputs.seed)")
        }
    }

    @Test(arguments: Subjects.all)
    func refusesATableThatDoesNotFit(_ subject: Subject) throws {
        let backend = subject.backend
        let x = try backend.allocate([2, 3, 10]), positions = try backend.tensor([Int32(0), 1], shape: [2], dtype: .i32)
        let tooLong = try backend.tensor([Float](repeating: 1, count: 6), shape: [6], name: "inverseFrequencies")
        #expect(throws: SlimError.self) { try backend.rope(x, positions: positions, inverseFrequencies: tooLong, style: .halves) }
        let ints = try backend.tensor([Int32](repeating: 1, count: 5), shape: [5], dtype: .i32)
        #expect(throws: SlimError.self) { try backend.rope(x, positions: positions, inverseFrequencies: ints, style: .halves) }
        let matrix = try backend.tensor([Float](repeating: 1, count: 4), shape: [2, 2])
        #expect(throws: SlimError.self) { try backend.rope(x, positions: positions, inverseFrequencies: matrix, style: .halves) }
        do {
            try backend.rope(x, positions: positions, inverseFrequencies: tooLong, style: .interleaved)
        } catch {
            #expect("\(error)".contains("inverseFrequencies"), "the error names the table: \(error)")
        }
    }
}
