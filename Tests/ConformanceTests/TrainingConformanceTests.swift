import Foundation
import SlimConformance
import SlimCore
import Testing

// The training ops of issue #7 on every subject: each against a float64
// reference written here, each backward op also against central finite
// differences of its float64 forward, AdamW against hand-computed numbers.

@Suite struct TrainingConformance {
    static let shapes: [[Int]] = [[1, 1], [7, 33], [3, 257], [2, 5, 384], [1, 1000]]
    /// Layer norm's dGamma/dBeta sum down columns: a shape with many rows (not
    /// a multiple of any row-lane count) exercises that reduction.
    static let layerNormShapes: [[Int]] = shapes + [[129, 5]]

    // MARK: GELU

    @Test(arguments: Subjects.all, shapes)
    func geluBackward(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims)
        let x = inputs.floats(shape.elementCount, scale: 4), dy = inputs.floats(shape.elementCount)
        let dx = try poisoned(backend, shape)
        try backend.geluBackward(try backend.tensor(x, shape: shape), gradOutput: try backend.tensor(dy, shape: shape), into: dx)
        let want = zip(x, dy).map { Double($1) * geluDerivative(Double($0)) }
        // GELU' ∈ [−0.13, 1.13] and |dy| ≤ 1; glibc's and PoCL's erfc and exp are
        // within a few ulp (errors seen ≲ 1e-7): atol 1e-6 (8 ulp at 1), rtol 1e-5.
        // OpenCL allows erfc 16 ulp: a GPU driver that uses it all needs 2e-6.
        expectClose(try backend.floats(dx), want, rtol: 1e-5, atol: 1e-6, "geluBackward seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func geluBackwardMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let x = inputs.floats(40, scale: 4), dy = inputs.floats(40)
        let dx = try poisoned(backend, [40])
        try backend.geluBackward(try backend.tensor(x, shape: [40]), gradOutput: try backend.tensor(dy, shape: [40]), into: dx)
        let fd = float64FiniteDifferences(x.map(Double.init)) { v in
            zip(v, dy).reduce(0.0) { $0 + Double($1.1) * referenceGelu($1.0) }
        }
        // Central differences in float64 with h = 1e-5 are good to ~1e-9; the
        // fp32 result to the 1e-6 of the reference test.
        expectClose(try backend.floats(dx), fd, rtol: 1e-5, atol: 1e-6, "geluBackward vs finite differences seed \(inputs.seed)")
    }

    // MARK: Softmax

    @Test(arguments: Subjects.all, shapes)
    func softmaxRowsBackward(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost
        let x = inputs.floats(shape.elementCount, scale: 8), dy = inputs.floats(shape.elementCount)
        let y = try backend.allocate(shape)
        try backend.softmaxRows(try backend.tensor(x, shape: shape), into: y)
        let yHost = try backend.floats(y)
        let dx = try poisoned(backend, shape)
        try backend.softmaxRowsBackward(y, gradOutput: try backend.tensor(dy, shape: shape), into: dx)
        let want = softmaxBackwardReference(yHost.map(Double.init), dy.map(Double.init), width: width)
        // Σ dy∘y adds ≤ 1000 terms with Σ |dy∘y| ≤ 1: its rounding errors random-walk
        // to ~√n·u ≈ 2e-6 at worst, ≲ 1e-8 seen; dx scales that by y ≤ 1: atol 2e-7, rtol 1e-5.
        expectClose(try backend.floats(dx), want, rtol: 1e-5, atol: 2e-7, "softmaxRowsBackward seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func softmaxRowsBackwardMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let shape: Shape = [3, 11]
        let x = inputs.floats(shape.elementCount, scale: 3), dy = inputs.floats(shape.elementCount)
        let y = try backend.allocate(shape), dx = try poisoned(backend, shape)
        try backend.softmaxRows(try backend.tensor(x, shape: shape), into: y)
        try backend.softmaxRowsBackward(y, gradOutput: try backend.tensor(dy, shape: shape), into: dx)
        let fd = float64FiniteDifferences(x.map(Double.init)) { v in
            zip(float64Softmax(v, width: 11), dy).reduce(0.0) { $0 + $1.0 * Double($1.1) }
        }
        // The fp32 softmax output carries ~1e-7 relative error into dx (≤ 3e-8 seen): atol 2e-7.
        expectClose(try backend.floats(dx), fd, rtol: 1e-5, atol: 2e-7, "softmax backward vs finite differences seed \(inputs.seed)")
    }

    // MARK: Layer norm

    @Test(arguments: Subjects.all, layerNormShapes)
    func layerNormBackward(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost, rows = shape.outerCount
        let x = inputs.floats(shape.elementCount, scale: 3).map { $0 + 2 }
        let gamma = inputs.floats(width), beta = inputs.floats(width), dy = inputs.floats(shape.elementCount)
        let run = try runLayerNormBackward(backend, x: x, gamma: gamma, beta: beta, dy: dy, shape: shape)
        let want = layerNormBackwardReference(x.map(Double.init), gamma: gamma.map(Double.init), dy: dy.map(Double.init),
                                              width: width, eps: 1e-5)
        // dx = rstd·(g − mean g − x̂·mean(g x̂)) is O(1) (rstd ≈ 0.6 here); its fp32
        // row sums over ≤ 1000 terms and the fp32 statistics each add a few ulp
        // (≲ 3e-7 seen): atol 2e-6, rtol 1e-5. A row of few, close values has a
        // large rstd, and the fp32 mean's rounding reaches dx through x̂ and the
        // outer rstd: the bound grows with rstd² there (a 5-wide row at rstd ≈ 1.1
        // was off by 2.1e-6 on every backend alike, seed 14197040443031235192).
        let rstd = stride(from: 0, to: x.count, by: width).map { start -> Double in
            let row = x[start..<start + width].map(Double.init), mean = row.reduce(0, +) / Double(width)
            return 1 / (row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width) + 1e-5).squareRoot()
        }
        let dxBounds = want.dx.indices.map { 2e-6 * max(1, rstd[$0 / width] * rstd[$0 / width]) + 1e-5 * abs(want.dx[$0]) }
        expectWithin(run.dx, want.dx, bounds: dxBounds, "dx seed \(inputs.seed) (atol 2e-6·max(1, rstd²), rtol 1e-5)")
        // dGamma and dBeta sum the rows' O(1) terms: their error grows like √rows
        // (≲ 3e-7·√rows seen): atol 3e-6·√rows.
        let colTolerance = 3e-6 * Double(max(1, rows)).squareRoot()
        expectClose(run.dGamma, want.dGamma, rtol: 1e-5, atol: colTolerance, "dGamma seed \(inputs.seed)")
        expectClose(run.dBeta, want.dBeta, rtol: 1e-5, atol: colTolerance, "dBeta seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func layerNormBackwardMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let shape: Shape = [4, 9], width = 9
        let x = inputs.floats(shape.elementCount, scale: 2), gamma = inputs.floats(width), beta = inputs.floats(width)
        let dy = inputs.floats(shape.elementCount)
        let run = try runLayerNormBackward(backend, x: x, gamma: gamma, beta: beta, dy: dy, shape: shape)
        let (x64, g64, b64) = (x.map(Double.init), gamma.map(Double.init), beta.map(Double.init))
        func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            zip(layerNorm64(x, gamma: g, beta: b, width: width, eps: 1e-5), dy).reduce(0.0) { $0 + $1.0 * Double($1.1) }
        }
        let fdX = float64FiniteDifferences(x64) { loss($0, g64, b64) }
        let fdGamma = float64FiniteDifferences(g64) { loss(x64, $0, b64) }
        let fdBeta = float64FiniteDifferences(b64) { loss(x64, g64, $0) }
        // float64 central differences are good to ~1e-9; fp32 as in the reference test (4 rows: 6e-6 for the column sums).
        expectClose(run.dx, fdX, rtol: 1e-5, atol: 2e-6, "dx vs finite differences seed \(inputs.seed)")
        expectClose(run.dGamma, fdGamma, rtol: 1e-5, atol: 6e-6, "dGamma vs finite differences seed \(inputs.seed)")
        expectClose(run.dBeta, fdBeta, rtol: 1e-5, atol: 6e-6, "dBeta vs finite differences seed \(inputs.seed)")
    }

    // MARK: Embedding

    static let embeddingCases: [(rows: Int, width: Int, ids: Int)] = [(1, 1, 1), (7, 33, 20), (3, 257, 9), (50, 384, 10), (5, 1000, 7)]

    @Test(arguments: Subjects.all, 0..<embeddingCases.count)
    func embeddingBackwardAddsIntoTheTable(_ subject: Subject, _ index: Int) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, index)
        let c = Self.embeddingCases[index]
        // Few rows for many ids: rows repeat, so the scatter must add, not overwrite.
        let ids = (0..<c.ids).map { _ in Int32.random(in: 0..<Int32(c.rows), using: &inputs.rng) }
        let initial = inputs.floats(c.rows * c.width), dy = inputs.floats(c.ids * c.width)
        let table = try backend.tensor(initial, shape: [c.rows, c.width])
        try backend.embeddingBackward(try backend.tensor(ids, shape: [c.ids], dtype: .i32),
                                      gradOutput: try backend.tensor(dy, shape: [c.ids, c.width]), into: table)
        let want = embeddingBackwardReference(ids, dy: dy, initial: initial, rows: c.rows, width: c.width)
        // Each element adds ≤ 20 O(1) fp32 values to its initial value: ≤ ~20 ulp of 20, atol 5e-6.
        let got = try backend.floats(table)
        expectClose(got, want, rtol: 1e-6, atol: 5e-6, "embeddingBackward seed \(inputs.seed)")
        // Every backend adds in token order per element: bitwise the CPU's result.
        let cpu = Subjects.all[0].backend
        let cpuTable = try cpu.tensor(initial, shape: [c.rows, c.width])
        try cpu.embeddingBackward(try cpu.tensor(ids, shape: [c.ids], dtype: .i32),
                                  gradOutput: try cpu.tensor(dy, shape: [c.ids, c.width]), into: cpuTable)
        #expect(try cpu.floats(cpuTable).map(\.bitPattern) == got.map(\.bitPattern),
                "embeddingBackward is deterministic and equal to the CPU's sum order, seed \(inputs.seed)")
    }

    /// Out-of-range ids (negative, the row count, the i32 extremes) are skipped:
    /// their dy rows add nothing and nothing outside the table is written.
    @Test(arguments: Subjects.all)
    func embeddingBackwardSkipsIdsOutsideTheTable(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let rows = 4, width = 37
        let ids: [Int32] = [2, -1, 4, 0, Int32.max, 2, Int32.min, 3, 5]
        let initial = inputs.floats(rows * width), dy = inputs.floats(ids.count * width)
        // The table is the head of a buffer two rows longer, so a write for id 4
        // or 5 (just past the table) would land in the guard rows and show.
        // (A write before the table, for id −1, cannot be observed this way.)
        let guardRows = inputs.floats(2 * width)
        let buffer = try backend.tensor(initial + guardRows, shape: [rows + 2, width])
        let table = Tensor(shape: [rows, width], dtype: .f32, storage: buffer.storage, name: "table")
        try backend.embeddingBackward(try backend.tensor(ids, shape: [ids.count], dtype: .i32),
                                      gradOutput: try backend.tensor(dy, shape: [ids.count, width]), into: table)
        let got = try backend.floats(buffer)
        let want = embeddingBackwardReference(ids, dy: dy, initial: initial, rows: rows, width: width)
        // Sums of ≤ 3 O(1) values: atol 1e-6.
        expectClose(Array(got[0..<rows * width]), want, rtol: 1e-6, atol: 1e-6, "embeddingBackward out-of-range ids seed \(inputs.seed)")
        // Row 1 has no in-range id, and the guard rows are outside the table: untouched, bit for bit.
        #expect(got[width..<2 * width].map(\.bitPattern) == initial[width..<2 * width].map(\.bitPattern))
        #expect(Array(got[(rows * width)...]).map(\.bitPattern) == guardRows.map(\.bitPattern), "a write past the table")
    }

    @Test(arguments: Subjects.all)
    func embeddingBackwardMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let rows = 5, width = 6, ids: [Int32] = [1, 3, 1, 0, 1]
        let table = inputs.floats(rows * width), dy = inputs.floats(ids.count * width)
        let grad = try backend.tensor([Float](repeating: 0, count: rows * width), shape: [rows, width])
        try backend.embeddingBackward(try backend.tensor(ids, shape: [ids.count], dtype: .i32),
                                      gradOutput: try backend.tensor(dy, shape: [ids.count, width]), into: grad)
        // The forward is the gather out[i] = table[ids[i]]; L = Σ dy ∘ out.
        let fd = float64FiniteDifferences(table.map(Double.init)) { (t: [Double]) -> Double in
            var sum = 0.0
            for (i, id) in ids.enumerated() {
                for j in 0..<width { sum += t[Int(id) * width + j] * Double(dy[i * width + j]) }
            }
            return sum
        }
        // Row 4 gets no id and row 1 three: sums of ≤ 3 values, atol 1e-6.
        expectClose(try backend.floats(grad), fd, rtol: 1e-6, atol: 1e-6, "embeddingBackward vs finite differences seed \(inputs.seed)")
    }

    // MARK: Reductions

    @Test(arguments: Subjects.all, shapes)
    func reduceRows(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost, rows = shape.outerCount
        let x = inputs.floats(shape.elementCount, scale: 2).map { $0 + 0.5 }
        let tx = try backend.tensor(x, shape: shape)
        for reduction in Reduction.allCases {
            let out = try poisoned(backend, [rows])
            try backend.reduceRows(tx, reduction, into: out)
            let want = stride(from: 0, to: x.count, by: width).map { start -> Double in
                let row = x[start..<start + width].map(Double.init)
                switch reduction {
                case .sum: return row.reduce(0, +)
                case .mean: return row.reduce(0, +) / Double(width)
                case .max: return row.max()!
                case .sumOfSquares: return row.reduce(0) { $0 + $1 * $1 }
                }
            }
            // An fp32 loop's rounding errors random-walk to ~u·√n·(size of the partial
            // sums) ≈ 2e-7 of the bound Σ|terms| ≤ 2.5·width (6.25·width squared) at
            // n = 1000 (a tree does better; ≲ 1e-8 of it seen): atol 3e-7 of that bound.
            // The maximum is exact.
            let magnitude = (reduction == .sumOfSquares ? 6.25 : 2.5) * Double(width) / (reduction == .mean ? Double(width) : 1)
            let atol = reduction == .max ? 0 : 3e-7 * magnitude
            expectClose(try backend.floats(out), want, rtol: reduction == .max ? 0 : 1e-6, atol: atol,
                        "reduceRows \(reduction) seed \(inputs.seed)")
        }
    }

    // MARK: AdamW

    /// Two steps of AdamW on three elements, worked by hand: lr 0.1, β 0.9/0.999,
    /// eps 1e-8, wd 0.01, gradient [0.2, −0.4, 2e-8] scaled by 0.5 to g = [0.1, −0.2, 1e-8]
    /// (the third so small that eps halves its step), p = [1, −2, 0.5], zero moments.
    /// Step 1: m = 0.1·g = [0.01, −0.02, 1e-9]; v = 0.001·g² = [1e-5, 4e-5, 1e-19] (see below for fp32 β₂);
    /// m̂ = m/0.1 = g; v̂ = v/0.001 = g²; update = g/(|g| + 1e-8) = [0.9999999, −0.99999995, 0.5];
    /// p = 0.999·p − 0.1·update = [0.89900001, −1.898000005, 0.4495].
    /// Step 2, same gradient: m = 0.9m + 0.1g = [0.019, −0.038, 1.9e-9], m̂ = m/0.19 = g;
    /// v = 0.999v + 0.001g² = 0.001999·g², v̂ = v/0.001999 = g²; the same update;
    /// p = 0.999·p − 0.1·update = [0.79810102, −1.79610201, 0.3990505].
    @Test(arguments: Subjects.all)
    func adamWByHand(_ subject: Subject) throws {
        let backend = subject.backend
        let p = try backend.tensor([Float(1), -2, 0.5], shape: [3])
        let g = try backend.tensor([Float(0.2), -0.4, 2e-8], shape: [3])
        let state = AdamWState(m: try backend.tensor([Float](repeating: 0, count: 3), shape: [3]),
                               v: try backend.tensor([Float](repeating: 0, count: 3), shape: [3]))
        var step = AdamWStep(learningRate: 0.1, step: 1)
        step.gradientScale = 0.5
        try backend.adamW(p, gradient: g, state: state, step: step)
        // p after a few fp32 operations: atol 1e-6 (8 ulp at 1.9); the moments rtol 1e-6 (fp32
        // 2e-8 is 2e-8·(1 − 3e-8), so m and v of the third element are off by that too).
        expectClose(try backend.floats(p), [0.899000009999999, -1.898000004999999, 0.4495], rtol: 0, atol: 1e-6, "p after step 1")
        expectClose(try backend.floats(state.m), [0.01, -0.02, 1e-9], rtol: 1e-6, atol: 0, "m after step 1")
        // fp32 0.999 is 0.99900001287, so 1 − β₂ = 0.00099998713 rather than 0.001:
        // v is that times g² (1.3e-5 below the decimal values); v̂ divides the same factor out, so p is unaffected.
        let oneMinusBeta2 = 1 - Double(Float(0.999))
        expectClose(try backend.floats(state.v), [0.01, 0.04, 1e-16].map { oneMinusBeta2 * $0 }, rtol: 1e-6, atol: 0, "v after step 1")
        step.step = 2
        try backend.adamW(p, gradient: g, state: state, step: step)
        expectClose(try backend.floats(p), [0.798101019989998, -1.796102009994999, 0.3990505], rtol: 0, atol: 1e-6, "p after step 2")
        expectClose(try backend.floats(state.m), [0.019, -0.038, 1.9e-9], rtol: 1e-6, atol: 0, "m after step 2")
        // v = β₂·v + (1 − β₂)·g² = (1 + β₂)(1 − β₂)·g², with fp32 β₂ as above.
        expectClose(try backend.floats(state.v), [0.01, 0.04, 1e-16].map { (2 - oneMinusBeta2) * oneMinusBeta2 * $0 },
                    rtol: 1e-6, atol: 0, "v after step 2")
    }

    @Test(arguments: Subjects.all, shapes)
    func adamWStepsMatchFloat64(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), n = shape.elementCount
        var p64 = inputs.floats(n).map(Double.init), m64 = [Double](repeating: 0, count: n), v64 = m64
        let p = try backend.tensor(p64.map(Float.init), shape: shape)
        let state = AdamWState(m: try backend.tensor(m64.map(Float.init), shape: shape), v: try backend.tensor(v64.map(Float.init), shape: shape))
        for t in 1...5 {
            var step = AdamWStep(learningRate: 1e-2, step: t)
            step.weightDecay = 0.1
            step.beta2 = 0.99
            step.gradientScale = t == 3 ? 0.25 : 1
            let g = inputs.floats(n, scale: 0.5)
            try backend.adamW(p, gradient: try backend.tensor(g, shape: shape), state: state, step: step)
            let (b1, b2) = (Double(step.beta1), Double(step.beta2))
            for i in 0..<n {
                let gi = Double(g[i]) * Double(step.gradientScale)
                m64[i] = b1 * m64[i] + (1 - b1) * gi
                v64[i] = b2 * v64[i] + (1 - b2) * gi * gi
                let mh = m64[i] / (1 - pow(b1, Double(t))), vh = v64[i] / (1 - pow(b2, Double(t)))
                p64[i] = p64[i] * (1 - Double(step.learningRate) * Double(step.weightDecay))
                    - Double(step.learningRate) * mh / (vh.squareRoot() + Double(step.epsilon))
            }
            // Each step rounds a handful of fp32 operations on p (|p| ≤ 1.1, ulp
            // 1.2e-7) and the update's ~1e-6 relative error is scaled by lr = 1e-2:
            // over 5 steps ≲ 1e-7 seen: p atol 5e-7. The moments are a few ulp
            // relative: rtol 1e-5 (atol for m near 0 after cancelling updates).
            expectClose(try backend.floats(p), p64, rtol: 0, atol: 5e-7, "p after step \(t) seed \(inputs.seed)")
            expectClose(try backend.floats(state.m), m64, rtol: 1e-5, atol: 1e-7, "m after step \(t) seed \(inputs.seed)")
            expectClose(try backend.floats(state.v), v64, rtol: 1e-5, atol: 1e-9, "v after step \(t) seed \(inputs.seed)")
        }
    }

    // MARK: Bad inputs

    @Test(arguments: Subjects.all)
    func badShapesThrow(_ subject: Subject) throws {
        let backend = subject.backend
        let x = try backend.allocate([3, 10]), other = try backend.allocate([10, 3]), short = try backend.allocate([29])
        let ids = try backend.tensor([Int32(0), 1, 2], shape: [3], dtype: .i32)
        func expectShape(_ op: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try body()
                Issue.record("\(op) accepted a bad operand", sourceLocation: sourceLocation)
            } catch let error as SlimError {
                switch error {
                case let .shapeMismatch(name, _), let .dtypeMismatch(name, _):
                    #expect(name == op, "\(error)", sourceLocation: sourceLocation)
                case let .invalidArgument(text):
                    #expect(text.hasPrefix(op), "\(error)", sourceLocation: sourceLocation)
                default: Issue.record("wrong error \(error)", sourceLocation: sourceLocation)
                }
            } catch { Issue.record("not a SlimError: \(error)", sourceLocation: sourceLocation) }
        }
        expectShape("geluBackward") { try backend.geluBackward(x, gradOutput: short, into: x) }
        expectShape("geluBackward") { try backend.geluBackward(x, gradOutput: x, into: ids) }
        expectShape("softmaxRowsBackward") { try backend.softmaxRowsBackward(x, gradOutput: other, into: x) }
        let gamma = try backend.allocate([10]), rowStats = NormStatistics(mean: try backend.allocate([3]), rstd: try backend.allocate([3]))
        let grads = LayerNormGradients(dx: try backend.allocate([3, 10]), dGamma: try backend.allocate([10]), dBeta: try backend.allocate([10]))
        expectShape("layerNormBackward") {
            try backend.layerNormBackward(x, gamma: try backend.allocate([9]), stats: rowStats, gradOutput: x, into: grads)
        }
        expectShape("layerNormBackward") {
            try backend.layerNormBackward(x, gamma: gamma, stats: NormStatistics(mean: try backend.allocate([4]), rstd: rowStats.rstd),
                                          gradOutput: x, into: grads)
        }
        expectShape("layerNormBackward") {
            try backend.layerNormBackward(x, gamma: gamma, stats: rowStats, gradOutput: x,
                                          into: LayerNormGradients(dx: grads.dx, dGamma: grads.dGamma, dBeta: try backend.allocate([3])))
        }
        expectShape("embeddingBackward") { try backend.embeddingBackward(ids, gradOutput: try backend.allocate([3, 9]), into: x) }
        expectShape("embeddingBackward") { try backend.embeddingBackward(ids, gradOutput: other, into: try backend.allocate([5, 10])) }
        expectShape("embeddingBackward") { try backend.embeddingBackward(x, gradOutput: x, into: try backend.allocate([5, 10])) }
        expectShape("embeddingBackward") { try backend.embeddingBackward(ids, gradOutput: x, into: try backend.allocate([50])) }
        expectShape("reduceRows") { try backend.reduceRows(x, .sum, into: try backend.allocate([10])) }
        expectShape("reduceRows") { try backend.reduceRows(try backend.allocate([3, 0]), .max, into: try backend.allocate([3])) }
        let state = AdamWState(m: try backend.allocate([30]), v: try backend.allocate([30]))
        expectShape("adamW") { try backend.adamW(x, gradient: short, state: state, step: AdamWStep(learningRate: 1e-3, step: 1)) }
        expectShape("adamW") {
            try backend.adamW(x, gradient: x, state: AdamWState(m: state.m, v: short), step: AdamWStep(learningRate: 1e-3, step: 1))
        }
        expectShape("adamW") { try backend.adamW(x, gradient: x, state: state, step: AdamWStep(learningRate: 1e-3, step: 0)) }
    }
}

// MARK: - float64 references and finite differences

/// Central differences `(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h` for every element of `x`.
func float64FiniteDifferences(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
    var v = x
    return (0..<x.count).map { i in
        v[i] = x[i] + h
        let up = f(v)
        v[i] = x[i] - h
        let down = f(v)
        v[i] = x[i]
        return (up - down) / (2 * h)
    }
}

private func layerNorm64(_ x: [Double], gamma: [Double], beta: [Double], width: Int, eps: Double) -> [Double] {
    stride(from: 0, to: x.count, by: width).flatMap { start -> [Double] in
        let row = x[start..<start + width]
        let mean = row.reduce(0, +) / Double(width)
        let rstd = 1 / (row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width) + eps).squareRoot()
        return row.enumerated().map { j, v in (v - mean) * rstd * gamma[j] + beta[j] }
    }
}

private func embeddingBackwardReference(_ ids: [Int32], dy: [Float], initial: [Float], rows: Int, width: Int) -> [Double] {
    var table = initial.map(Double.init)
    for (i, id) in ids.enumerated() where (0..<rows).contains(Int(id)) {
        for j in 0..<width { table[Int(id) * width + j] += Double(dy[i * width + j]) }
    }
    return table
}

/// Runs the backend's layer norm forward (saving statistics) and backward, with every output poisoned first.
private func runLayerNormBackward(_ backend: any Backend, x: [Float], gamma: [Float], beta: [Float], dy: [Float], shape: Shape)
    throws -> (dx: [Float], dGamma: [Float], dBeta: [Float]) {
    let width = shape.innermost, rows = shape.outerCount
    let tx = try backend.tensor(x, shape: shape), tg = try backend.tensor(gamma, shape: [width])
    let stats = NormStatistics(mean: try poisoned(backend, [rows]), rstd: try poisoned(backend, [rows]))
    try backend.layerNorm(tx, gamma: tg, beta: try backend.tensor(beta, shape: [width]), epsilon: 1e-5,
                          into: try backend.allocate(shape), saving: stats)
    let grads = LayerNormGradients(dx: try poisoned(backend, shape), dGamma: try poisoned(backend, [width]),
                                   dBeta: try poisoned(backend, [width]))
    try backend.layerNormBackward(tx, gamma: tg, stats: stats, gradOutput: try backend.tensor(dy, shape: shape), into: grads)
    return (try backend.floats(grads.dx), try backend.floats(grads.dGamma), try backend.floats(grads.dBeta))
}
