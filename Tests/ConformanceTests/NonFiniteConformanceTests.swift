import Foundation
import SlimConformance
import SlimCore
import Testing

/// Issue 21: NaN and ±∞ propagate the same way on every backend, as IEEE
/// arithmetic of each op's definition propagates them (a maximum that keeps
/// NaN; ∞ − ∞ is NaN). A path that drops NaN (a maxNum, a clamp, a masked
/// weight of 0 times a NaN value, a fully masked row's zeros) turns a broken
/// model's NaN into finite, normal-looking numbers on one backend only.
/// Each output element must fall in the reference's class (NaN, +∞, −∞,
/// finite) and finite ones must be close.
@Suite struct NonFiniteConformance {
    enum Class: Equatable { case nan, plusInfinity, minusInfinity, finite }
    static func kind(_ x: Double) -> Class { x.isNaN ? .nan : x == .infinity ? .plusInfinity : x == -.infinity ? .minusInfinity : .finite }

    static func expectSameClasses(_ actual: [Float], _ reference: [Double], _ what: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == reference.count, sourceLocation: sourceLocation)
        let wrong = zip(actual, reference).enumerated().filter { kind(Double($1.0)) != kind($1.1) }
        #expect(wrong.isEmpty, "\(what): \(wrong.count) elements in the wrong class, first at \(wrong.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")",
                sourceLocation: sourceLocation)
        let finite = reference.indices.filter { reference[$0].isFinite && actual[$0].isFinite }
        expectClose(finite.map { actual[$0] }, finite.map { reference[$0] }, rtol: 1e-4, atol: 1e-5, what, sourceLocation: sourceLocation)
        #expect(reference.contains { $0.isNaN }, "\(what): the case has NaN to propagate", sourceLocation: sourceLocation)
    }

    /// The maximum IEEE 754-2019 calls `maximum`: NaN if any operand is.
    static func maximum(_ values: some Sequence<Double>) -> Double {
        values.reduce(-Double.infinity) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    }

    @Test(arguments: Subjects.all)
    func softmaxRows(_ subject: Subject) throws {
        let b = subject.backend, width = 37
        var inputs = Inputs()
        // Rows: a NaN, a +∞, a −∞ (a masked logit: stays finite), every value −∞, and a clean row.
        var x = inputs.floats(5 * width, scale: 4)
        x[3] = .nan; x[width + 20] = .infinity; x[2 * width + 5] = -.infinity
        for j in 0..<width { x[3 * width + j] = -.infinity }
        let out = try poisoned(b, [5, width])
        try b.softmaxRows(try b.tensor(x, shape: [5, width]), into: out)
        let want = (0..<5).flatMap { r -> [Double] in
            let row = x[r * width..<(r + 1) * width].map(Double.init), peak = Self.maximum(row)
            let e = row.map { exp($0 - peak) }, sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        Self.expectSameClasses(try b.floats(out), want, "softmax")
    }

    @Test(arguments: Subjects.all)
    func layerNormAndRMSNorm(_ subject: Subject) throws {
        let b = subject.backend, width = 48, rows = 4
        var inputs = Inputs()
        // A NaN and a +∞ in the input; a NaN in gamma (one column of every row) and in the RMS weight.
        var x = inputs.floats(rows * width, scale: 2), gamma = inputs.floats(width), beta = inputs.floats(width)
        x[7] = .nan; x[width + 30] = .infinity
        gamma[11] = .nan
        let out = try poisoned(b, [rows, width])
        try b.layerNorm(try b.tensor(x, shape: [rows, width]), gamma: try b.tensor(gamma, shape: [width]),
                        beta: try b.tensor(beta, shape: [width]), epsilon: 1e-5, into: out, saving: nil)
        let ln = (0..<rows).flatMap { r -> [Double] in
            let row = x[r * width..<(r + 1) * width].map(Double.init), mean = row.reduce(0, +) / Double(width)
            let rstd = 1 / (row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width) + 1e-5).squareRoot()
            return row.indices.map { (row[$0] - mean) * rstd * Double(gamma[$0]) + Double(beta[$0]) }
        }
        Self.expectSameClasses(try b.floats(out), ln, "layerNorm")

        let rms = try poisoned(b, [rows, width])
        try b.rmsNorm(try b.tensor(x, shape: [rows, width]), weight: try b.tensor(gamma, shape: [width]), epsilon: 1e-5, into: rms)
        let want = (0..<rows).flatMap { r -> [Double] in
            let row = x[r * width..<(r + 1) * width].map(Double.init)
            let scale = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(width) + 1e-5).squareRoot()
            return row.indices.map { row[$0] * scale * Double(gamma[$0]) }
        }
        Self.expectSameClasses(try b.floats(rms), want, "rmsNorm")
    }

    @Test(arguments: Subjects.all, [false, true])
    func gemm(_ subject: Subject, _ transposeB: Bool) throws {
        let b = subject.backend, (m, n, k) = (9, 21, 33)
        var inputs = Inputs()
        // A NaN in A (a row of C), a +∞ in B (a column of C, ±∞ by sign), a −∞ in A meeting the +∞ (NaN).
        var a = inputs.floats(m * k), bv = inputs.floats(k * n)
        a[1 * k + 3] = .nan
        a[6 * k + 5] = -.infinity
        bv[transposeB ? 2 * k + 5 : 5 * n + 2] = .infinity
        let c = try poisoned(b, [m, n])
        try b.gemm(try b.tensor(a, shape: [m, k]), try b.tensor(bv, shape: transposeB ? [n, k] : [k, n]), into: c,
                   options: GemmOptions(transposeB: transposeB))
        let want = (0..<m * n).map { idx -> Double in
            let (i, j) = (idx / n, idx % n)
            return (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(bv[transposeB ? j * k + $1 : $1 * n + j]) }
        }
        Self.expectSameClasses(try b.floats(c), want, "gemm\(transposeB ? " Bᵀ" : "")")
    }

    /// Causal attention over 40 tokens in blocks of 16 with a NaN query, a NaN key,
    /// a NaN value and a +∞ query: a query that does not see the NaN key or value
    /// (it lies past the query on the causal diagonal, inside its block) stays finite.
    @Test(arguments: Subjects.all)
    func attention(_ subject: Subject) throws {
        let b = subject.backend, (n, heads, d) = (40, 2, 16)
        var inputs = Inputs()
        var q = inputs.floats(n * heads * d), k = inputs.floats(n * heads * d), v = inputs.floats(n * heads * d)
        func at(_ i: Int, _ h: Int, _ e: Int) -> Int { (i * heads + h) * d + e }
        q[at(5, 0, 3)] = .nan; k[at(20, 1, 0)] = .nan; v[at(30, 0, 7)] = .nan; q[at(8, 1, 2)] = .infinity
        let shape: Shape = [1, n, heads, d], scale = 1 / Float(d).squareRoot()
        let o = try poisoned(b, shape), lse = try poisoned(b, [1, heads, n])
        try b.attention(try b.tensor(q, shape: shape), try b.tensor(k, shape: shape), try b.tensor(v, shape: shape),
                        layout: try .causal(queryLength: n, blockSize: 16), options: AttentionOptions(scale: scale), into: o, logSumExp: lse)
        var want = [Double](repeating: 0, count: q.count), wantLSE = [Double](repeating: 0, count: heads * n)
        for h in 0..<heads {
            for i in 0..<n {
                let s = (0...i).map { j in (0..<d).reduce(0.0) { $0 + Double(q[at(i, h, $1)]) * Double(k[at(j, h, $1)]) } * Double(scale) }
                let peak = Self.maximum(s), w = s.map { exp($0 - peak) }, sum = w.reduce(0, +)
                for e in 0..<d { want[at(i, h, e)] = (0...i).reduce(0.0) { $0 + w[$1] * Double(v[at($1, h, e)]) } / sum }
                wantLSE[h * n + i] = peak + log(sum)
            }
        }
        Self.expectSameClasses(try b.floats(o), want, "attention output")
        Self.expectSameClasses(try b.floats(lse), wantLSE, "attention log-sum-exp")
    }

    @Test(arguments: Subjects.all)
    func geluAndSwiGLU(_ subject: Subject) throws {
        let b = subject.backend, count = 40
        var inputs = Inputs()
        // 40 values: the vector body and the scalar tail of an 8-lane loop both see NaN and ±∞.
        var x = inputs.floats(count, scale: 3), up = inputs.floats(count)
        for (i, value) in [(2, Float.nan), (9, .infinity), (17, -.infinity), (35, .nan), (37, .infinity), (39, -.infinity)] { x[i] = value }
        up[20] = .nan
        let out = try poisoned(b, [count])
        try b.gelu(try b.tensor(x, shape: [count]), into: out)
        Self.expectSameClasses(try b.floats(out), x.map { 0.5 * Double($0) * erfc(-Double($0) / 2.0.squareRoot()) }, "gelu")
        try b.swiglu(try b.tensor(x, shape: [count]), try b.tensor(up, shape: [count]), into: out)
        Self.expectSameClasses(try b.floats(out), x.indices.map { Double(x[$0]) / (1 + exp(-Double(x[$0]))) * Double(up[$0]) }, "swiglu")
        try b.gatedActivation(try b.tensor(x, shape: [count]), try b.tensor(up, shape: [count]), .geluTanh, into: out)
        Self.expectSameClasses(try b.floats(out), x.indices.map { referenceGate(Double(x[$0]), .geluTanh) * Double(up[$0]) }, "geluTanh")
    }

    /// A NaN weight fake-quantizes to NaN (a clamp dropped it to the lowest
    /// level); ±∞ clamps to the grid's ends, as a large finite weight does.
    @Test(arguments: Subjects.all)
    func fakeQuantization(_ subject: Subject) throws {
        let b = subject.backend
        let grid = try FakeQuantGrid(format: .int4(groupSize: 32, symmetric: true), columns: 64)
        var inputs = Inputs()
        var w = inputs.floats(2 * 64)
        w[3] = .nan; w[40] = .infinity; w[100] = -.infinity
        let scales: [Float] = [0.1, 0.2, 0.15, 0.05]
        let out = try poisoned(b, [2, 64])
        try b.fakeQuantize(try b.tensor(w, shape: [2, 64]), scales: try b.tensor(scales, shape: [4]), zeros: nil, grid: grid, into: out)
        let got = try b.floats(out)
        Self.expectSameClasses(got, w.indices.map {
            w[$0].isNaN ? .nan : Double(scales[$0 / 32]) * Double(min(7, max(-8, (w[$0] / scales[$0 / 32]).rounded())))
        }, "fake quantization")
    }
}
