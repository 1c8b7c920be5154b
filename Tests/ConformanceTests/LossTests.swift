import Foundation
import SlimConformance
import SlimCore
import Testing

// The distillation losses (Losses.swift) on every subject: value and gradient
// against float64 references written here, every gradient against central
// finite differences of the float64 loss, and the edge cases each documents.

@Suite struct LossConformance {
    static let shapes: [[Int]] = [[1, 1], [7, 33], [3, 257], [2, 5, 384], [1, 1000]]

    // MARK: KL divergence with temperature

    @Test(arguments: Subjects.all, shapes)
    func klDivergence(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), temperature: Float = 2
        let s = inputs.floats(shape.elementCount, scale: 6), t = inputs.floats(shape.elementCount, scale: 6)
        let grad = try poisoned(backend, shape)
        let loss = try backend.klDivergenceLoss(student: try backend.tensor(s, shape: shape), teacher: try backend.tensor(t, shape: shape),
                                                temperature: temperature, gradient: grad)
        let want = klReference(s.map(Double.init), t.map(Double.init), width: shape.innermost, temperature: Double(temperature))
        // Each row's KL sums ≤ 1000 terms q·(log q − log p) whose logs carry the
        // fp32 log-sum-exp's ~1e-6 absolute error; the loss is O(1): rtol 1e-5, atol 1e-6.
        expectClose([loss], [want.loss], rtol: 1e-5, atol: 1e-6, "KL value seed \(inputs.seed)")
        // Gradient T/rows·(p − q): p and q ≤ 1 carry the fp32 lse's absolute error
        // (u·|lse| ≲ 1e-6 at worst, ≲ 2e-8 seen) as relative error: atol 2e-7·T/rows.
        let rows = Double(shape.outerCount)
        expectClose(try backend.floats(grad), want.gradient, rtol: 1e-5, atol: 2e-7 * Double(temperature) / rows,
                    "KL gradient seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all, [Float(0.5), 1, 4])
    func klDivergenceGradientMatchesFiniteDifferences(_ subject: Subject, _ temperature: Float) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, temperature)
        let shape: Shape = [3, 7]
        let s = inputs.floats(shape.elementCount, scale: 3), t = inputs.floats(shape.elementCount, scale: 3)
        let grad = try poisoned(backend, shape)
        let loss = try backend.klDivergenceLoss(student: try backend.tensor(s, shape: shape), teacher: try backend.tensor(t, shape: shape),
                                                temperature: temperature, gradient: grad)
        let t64 = t.map(Double.init), T = Double(temperature)
        let fd = float64FiniteDifferences(s.map(Double.init)) { klReference($0, t64, width: 7, temperature: T).loss }
        // float64 central differences are good to ~1e-9; the fp32 gradient as above (3 rows).
        expectClose(try backend.floats(grad), fd, rtol: 1e-5, atol: 2e-7 * T, "KL gradient vs finite differences T \(T) seed \(inputs.seed)")
        // KL ≥ 0, and zero only for identical distributions.
        #expect(loss > 0)
        let same = try backend.tensor(s, shape: shape)
        let zero = try backend.klDivergenceLoss(student: same, teacher: same, temperature: temperature, gradient: grad)
        // Identical rows: each term q·(log q − log p) is q·0 exactly, the gradient p − q is 0 exactly.
        #expect(zero == 0, "KL of a distribution with itself is \(zero)")
        #expect(try backend.floats(grad).allSatisfy { $0 == 0 })
    }

    // MARK: Cross-entropy with ignore index

    @Test(arguments: Subjects.all, shapes)
    func crossEntropyWithIgnoredRows(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost, rows = shape.outerCount
        let z = inputs.floats(shape.elementCount, scale: 6)
        // About one row in three ignored, but never every row.
        let labels = (0..<rows).map { r -> Int32 in
            r > 0 && Int.random(in: 0..<3, using: &inputs.rng) == 0 ? -100 : Int32.random(in: 0..<Int32(width), using: &inputs.rng)
        }
        let grad = try poisoned(backend, shape)
        let loss = try backend.crossEntropyLoss(logits: try backend.tensor(z, shape: shape),
                                                labels: try backend.tensor(labels, shape: [rows], dtype: .i32), gradient: grad)
        let want = crossEntropyReference(z.map(Double.init), labels: labels, ignoreIndex: -100, width: width)
        // −log p = lse − z[label] with the fp32 lse off by a few ulp of |lse| ≤ ~13
        // (≲ 1e-7 relative seen), averaged in double: rtol 2e-6, atol 2e-7.
        expectClose([loss], [want.loss], rtol: 2e-6, atol: 2e-7, "cross-entropy value seed \(inputs.seed)")
        // Gradient (p − onehot)/n: p good to ~1e-6 relative (≲ 1e-7 seen): atol 2e-6/n; ignored rows exactly 0.
        let counted = Double(labels.filter { $0 != -100 }.count)
        let got = try backend.floats(grad)
        expectClose(got, want.gradient, rtol: 1e-5, atol: 2e-6 / counted, "cross-entropy gradient seed \(inputs.seed)")
        for r in 0..<rows where labels[r] == -100 {
            #expect(got[r * width..<(r + 1) * width].allSatisfy { $0 == 0 }, "ignored row \(r) has a zero gradient")
        }
    }

    @Test(arguments: Subjects.all)
    func crossEntropyGradientMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let shape: Shape = [4, 6]
        let z = inputs.floats(shape.elementCount, scale: 3), labels: [Int32] = [5, 7, 0, 2]  // 7: ignore index here
        let grad = try poisoned(backend, shape)
        _ = try backend.crossEntropyLoss(logits: try backend.tensor(z, shape: shape),
                                         labels: try backend.tensor(labels, shape: [4], dtype: .i32), ignoreIndex: 7, gradient: grad)
        let fd = float64FiniteDifferences(z.map(Double.init)) { crossEntropyReference($0, labels: labels, ignoreIndex: 7, width: 6).loss }
        // float64 central differences ~1e-9; fp32 gradient entries ≤ 1/3 good to a few ulp: atol 2e-7.
        expectClose(try backend.floats(grad), fd, rtol: 1e-5, atol: 2e-7, "cross-entropy vs finite differences seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func crossEntropyEdgeCases(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let z = try backend.tensor(inputs.floats(3 * 5, scale: 3), shape: [3, 5])
        // Every row ignored: loss 0 and a gradient written as zeros.
        let grad = try poisoned(backend, [3, 5])
        let none = try backend.crossEntropyLoss(logits: z, labels: try backend.tensor([Int32](repeating: -100, count: 3), shape: [3], dtype: .i32),
                                                gradient: grad)
        #expect(none == 0)
        #expect(try backend.floats(grad).allSatisfy { $0 == 0 })
        // A label outside the classes that is not the ignore index is refused, naming the row.
        do {
            _ = try backend.crossEntropyLoss(logits: z, labels: try backend.tensor([Int32(0), 5, 1], shape: [3], dtype: .i32), gradient: grad)
            Issue.record("label 5 of 5 classes was accepted")
        } catch let error as SlimError {
            #expect(error.description.contains("row 1"), "\(error)")
        }
        // The row kernel itself, given such a label, writes NaN for that row and
        // nothing outside it; the other rows are computed.
        let perRow = try poisoned(backend, [3])
        try backend.softmaxLossRows(z, target: .labels(try backend.tensor([Int32(0), -3, 4], shape: [3], dtype: .i32), ignoreIndex: -100),
                                    temperature: 1, loss: perRow, gradient: grad, gradientScale: 1)
        let rowLoss = try backend.floats(perRow), g = try backend.floats(grad)
        #expect(rowLoss[1].isNaN && g[5..<10].allSatisfy(\.isNaN))
        #expect(rowLoss[0].isFinite && rowLoss[2].isFinite && g[0..<5].allSatisfy(\.isFinite) && g[10..<15].allSatisfy(\.isFinite))
        // The loss alone, without a gradient.
        let alone = try backend.crossEntropyLoss(logits: z, labels: try backend.tensor([Int32(0), 1, 2], shape: [3], dtype: .i32), gradient: nil)
        #expect(alone.isFinite && alone > 0)
    }

    // MARK: MSE

    @Test(arguments: Subjects.all, shapes)
    func meanSquaredError(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims)
        let a = inputs.floats(shape.elementCount, scale: 2), b = inputs.floats(shape.elementCount, scale: 2)
        let grad = try poisoned(backend, shape)
        let loss = try backend.mseLoss(try backend.tensor(a, shape: shape), try backend.tensor(b, shape: shape), gradient: grad)
        let n = Double(shape.elementCount)
        let d = zip(a, b).map { Double($0) - Double($1) }
        // Row sums of ≤ 1000 squares ≤ 16 in fp32, added in double: rtol 1e-5.
        expectClose([loss], [d.reduce(0) { $0 + $1 * $1 } / n], rtol: 1e-5, atol: 0, "MSE value seed \(inputs.seed)")
        // 2·(a − b)/n: a − b is exact in fp32 here or off by half an ulp, then one scale: rtol 1e-6.
        expectClose(try backend.floats(grad), d.map { 2 * $0 / n }, rtol: 1e-6, atol: 0, "MSE gradient seed \(inputs.seed)")
        let alone = try backend.mseLoss(try backend.tensor(a, shape: shape), try backend.tensor(b, shape: shape), gradient: nil)
        #expect(alone == loss)
    }

    @Test(arguments: Subjects.all)
    func meanSquaredErrorGradientMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let a = inputs.floats(12), b = inputs.floats(12)
        let grad = try poisoned(backend, [3, 4])
        _ = try backend.mseLoss(try backend.tensor(a, shape: [3, 4]), try backend.tensor(b, shape: [3, 4]), gradient: grad)
        let fd = float64FiniteDifferences(a.map(Double.init)) { (x: [Double]) -> Double in
            var sum = 0.0
            for (xi, bi) in zip(x, b) { sum += (xi - Double(bi)) * (xi - Double(bi)) }
            return sum / 12
        }
        // A quadratic: central differences are exact up to float64 rounding (~1e-11); fp32 gradient ≤ 1/3: atol 1e-7.
        expectClose(try backend.floats(grad), fd, rtol: 1e-6, atol: 1e-7, "MSE vs finite differences seed \(inputs.seed)")
    }

    // MARK: Cosine embedding loss

    @Test(arguments: Subjects.all, shapes)
    func cosineEmbedding(_ subject: Subject, _ dims: [Int]) throws {
        let backend = subject.backend
        var inputs = Inputs(subject, dims)
        let shape = Shape(dims), width = shape.innermost, rows = shape.outerCount
        // b leans towards a so cosines spread over (−1, 1) rather than sitting near 0.
        let a = inputs.floats(shape.elementCount)
        let b = zip(a, inputs.floats(shape.elementCount)).map { 0.7 * $0 + $1 }
        let grad = try poisoned(backend, shape)
        let ta = try backend.tensor(a, shape: shape), tb = try backend.tensor(b, shape: shape)
        let loss = try backend.cosineEmbeddingLoss(ta, tb, gradient: grad)
        let want = cosineReference(a.map(Double.init), b.map(Double.init), width: width)
        // The cosine's three fp32 sums over ≤ 1000 terms: ~1e-6 relative each; loss O(1): atol 2e-6.
        expectClose([loss], [want.loss], rtol: 1e-5, atol: 2e-6, "cosine loss seed \(inputs.seed)")
        // Gradient entries are O(1/(rows·‖a‖)); they difference two terms of that size: atol 2e-6 of it.
        let gradScale = 1 / (Double(rows) * (a.reduce(0) { $0 + Double($1 * $1) } / Double(rows)).squareRoot())
        expectClose(try backend.floats(grad), want.gradA, rtol: 1e-5, atol: 2e-6 * gradScale, "cosine gradient seed \(inputs.seed)")
        // The row op also gives ∂cos/∂b, here scaled by 1.
        let cosine = try poisoned(backend, [rows]), gradB = try poisoned(backend, shape)
        try backend.cosineSimilarityRows(ta, tb, into: cosine, gradA: nil, gradB: gradB, gradientScale: 1)
        expectClose(try backend.floats(cosine), want.cosine, rtol: 1e-5, atol: 2e-6, "cosine rows seed \(inputs.seed)")
        let bScale = (Double(rows) / b.reduce(0) { $0 + Double($1 * $1) }).squareRoot()
        expectClose(try backend.floats(gradB), want.gradB, rtol: 1e-5, atol: 2e-6 * bScale, "∂cos/∂b seed \(inputs.seed)")
    }

    @Test(arguments: Subjects.all)
    func cosineGradientMatchesFiniteDifferences(_ subject: Subject) throws {
        let backend = subject.backend
        var inputs = Inputs(subject)
        let a = inputs.floats(15), b = inputs.floats(15)
        let grad = try poisoned(backend, [3, 5])
        _ = try backend.cosineEmbeddingLoss(try backend.tensor(a, shape: [3, 5]), try backend.tensor(b, shape: [3, 5]), gradient: grad)
        let b64 = b.map(Double.init)
        let fd = float64FiniteDifferences(a.map(Double.init)) { cosineReference($0, b64, width: 5).loss }
        // float64 central differences ~1e-9; entries O(1/(3‖a‖)) ≈ 0.3 good to a few ulp: atol 2e-7.
        expectClose(try backend.floats(grad), fd, rtol: 1e-5, atol: 2e-7, "cosine vs finite differences seed \(inputs.seed)")
        // A zero row has cosine 0 (its norm is clamped), not NaN.
        let cosine = try poisoned(backend, [1])
        try backend.cosineSimilarityRows(try backend.tensor([Float](repeating: 0, count: 5), shape: [1, 5]),
                                         try backend.tensor(Array(b[0..<5]), shape: [1, 5]), into: cosine, gradA: nil, gradB: nil,
                                         gradientScale: 1)
        #expect(try backend.floats(cosine) == [0])
    }

    // MARK: Bad inputs

    @Test(arguments: Subjects.all)
    func badLossInputsThrow(_ subject: Subject) throws {
        let backend = subject.backend
        let x = try backend.allocate([3, 10]), other = try backend.allocate([10, 3])
        #expect(throws: SlimError.self) { _ = try backend.klDivergenceLoss(student: x, teacher: other, temperature: 2, gradient: nil) }
        #expect(throws: SlimError.self) { _ = try backend.klDivergenceLoss(student: x, teacher: x, temperature: 0, gradient: nil) }
        #expect(throws: SlimError.self) { _ = try backend.klDivergenceLoss(student: x, teacher: x, temperature: 1, gradient: other) }
        let labels = try backend.tensor([Int32(1), 2], shape: [2], dtype: .i32)
        #expect(throws: SlimError.self) { _ = try backend.crossEntropyLoss(logits: x, labels: labels, gradient: nil) }
        #expect(throws: SlimError.self) { _ = try backend.crossEntropyLoss(logits: x, labels: try backend.allocate([3]), gradient: nil) }
        #expect(throws: SlimError.self) { _ = try backend.mseLoss(x, other, gradient: nil) }
        #expect(throws: SlimError.self) { _ = try backend.mseLoss(x, x, gradient: other) }
        #expect(throws: SlimError.self) { _ = try backend.cosineEmbeddingLoss(x, other, gradient: nil) }
        #expect(throws: SlimError.self) {
            try backend.cosineSimilarityRows(x, x, into: try backend.allocate([10]), gradA: nil, gradB: nil, gradientScale: 1)
        }
    }
}

// MARK: - float64 references

/// `T² · mean over rows of KL(softmax(t/T) ‖ softmax(s/T))` and its gradient `T/rows · (p − q)`.
private func klReference(_ s: [Double], _ t: [Double], width: Int, temperature T: Double) -> (loss: Double, gradient: [Double]) {
    let rows = Double(s.count / width)
    let p = float64Softmax(s.map { $0 / T }, width: width), q = float64Softmax(t.map { $0 / T }, width: width)
    let kl = zip(p, q).reduce(0.0) { $0 + ($1.1 > 0 ? $1.1 * (log($1.1) - log($1.0)) : 0) }
    return (T * T * kl / rows, zip(p, q).map { T / rows * ($0 - $1) })
}

/// Mean of `−log p[label]` over the rows not ignored, gradient `(p − onehot)/n` (0 on ignored rows).
private func crossEntropyReference(_ z: [Double], labels: [Int32], ignoreIndex: Int32, width: Int) -> (loss: Double, gradient: [Double]) {
    let p = float64Softmax(z, width: width)
    let n = Double(labels.filter { $0 != ignoreIndex }.count)
    var loss = 0.0, grad = [Double](repeating: 0, count: z.count)
    for (r, label) in labels.enumerated() where label != ignoreIndex {
        loss -= log(p[r * width + Int(label)])
        for j in 0..<width { grad[r * width + j] = (p[r * width + j] - (j == Int(label) ? 1 : 0)) / n }
    }
    return (loss / n, grad)
}

/// Mean over rows of `1 − cos(a_r, b_r)`, each row's cosine, the loss's gradient
/// in `a`, and `∂cos_r/∂b_r`.
private func cosineReference(_ a: [Double], _ b: [Double], width: Int)
    -> (loss: Double, cosine: [Double], gradA: [Double], gradB: [Double]) {
    let rows = a.count / width
    var cosines: [Double] = [], gradA = [Double](repeating: 0, count: a.count), gradB = gradA
    for r in 0..<rows {
        let ra = r * width..<(r + 1) * width
        let dot = ra.reduce(0.0) { $0 + a[$1] * b[$1] }
        let na = ra.reduce(0.0) { $0 + a[$1] * a[$1] }.squareRoot(), nb = ra.reduce(0.0) { $0 + b[$1] * b[$1] }.squareRoot()
        let c = dot / (na * nb)
        cosines.append(c)
        for i in ra {
            gradA[i] = -(b[i] / (na * nb) - c * a[i] / (na * na)) / Double(rows)
            gradB[i] = a[i] / (na * nb) - c * b[i] / (nb * nb)
        }
    }
    return (cosines.reduce(0) { $0 + 1 - $1 } / Double(rows), cosines, gradA, gradB)
}
