// The distillation losses with their gradients, composed of backend ops so
// every backend runs them: the softmax losses and the cosine on the two row
// kernels of LossOps.swift, MSE on scale, add and reduceRows.
//
// Each returns the loss as a host value (it waits for the backend: a training
// loop reads its loss every step) and, when `gradient` is given, writes
// ∂loss/∂(first operand) there, shaped like that operand. `gradient` must not
// alias an input. Each allocates one small per-row temporary (MSE: also a
// difference buffer when no gradient is asked for).

extension Backend {
    /// Hinton's distillation loss: `T² · mean over rows of KL(softmax(teacher/T) ‖ softmax(student/T))`.
    ///
    /// Rows are every row over the last dimension (a `[batch, tokens, vocab]`
    /// tensor is a per-token mean, PyTorch's `batchmean` on the logits reshaped
    /// to `[batch·tokens, vocab]`). The T² keeps the gradient's size independent
    /// of `T`: `∂loss/∂student = T / rows · (p_student − p_teacher)`.
    ///
    /// ```swift
    /// let loss = try backend.klDivergenceLoss(student: s, teacher: t, temperature: 2, gradient: ds)
    /// ```
    public func klDivergenceLoss(student: Tensor, teacher: Tensor, temperature: Float, gradient: Tensor?) throws -> Float {
        let rows = student.shape.outerCount
        let perRow = try allocate([rows], name: "kl.rows")
        let t = Double(temperature)
        try softmaxLossRows(student, target: .logits(teacher), temperature: temperature, loss: perRow,
                            gradient: gradient, gradientScale: Float(t / Double(rows)))
        return Float(t * t * (try floats(perRow).reduce(0.0) { $0 + Double($1) }) / Double(rows))
    }

    /// Cross-entropy of `logits` (`[..., classes]`) against one i32 label per
    /// row, averaged over the rows whose label is not `ignoreIndex` (PyTorch's
    /// default, -100). With every row ignored the loss and gradient are 0.
    /// A label outside `0..<classes` other than `ignoreIndex` throws, naming the row.
    public func crossEntropyLoss(logits: Tensor, labels: Tensor, ignoreIndex: Int32 = -100, gradient: Tensor?) throws -> Float {
        let rows = logits.shape.outerCount, classes = logits.shape.innermost
        let perRow = try allocate([rows], name: "crossEntropy.rows")
        try checkSoftmaxLoss(logits, target: .labels(labels, ignoreIndex: ignoreIndex), temperature: 1, loss: perRow,
                             gradient: gradient, on: id)
        var hostLabels = [Int32](repeating: 0, count: rows)
        try hostLabels.withUnsafeMutableBytes { try download(labels, into: $0) }
        var counted = 0
        for (r, label) in hostLabels.enumerated() where label != ignoreIndex {
            guard (0..<classes).contains(Int(label)) else {
                throw SlimError.invalidArgument("crossEntropyLoss: label \(label) of row \(r) is outside 0..<\(classes) and is not the ignore index \(ignoreIndex)")
            }
            counted += 1
        }
        try softmaxLossRows(logits, target: .labels(labels, ignoreIndex: ignoreIndex), temperature: 1, loss: perRow,
                            gradient: gradient, gradientScale: counted > 0 ? Float(1 / Double(counted)) : 0)
        guard counted > 0 else { return 0 }
        return Float(try floats(perRow).reduce(0.0) { $0 + Double($1) } / Double(counted))
    }

    /// Mean squared error over every element: `mean((prediction − target)²)`,
    /// gradient `2 (prediction − target) / count`.
    public func mseLoss(_ prediction: Tensor, _ target: Tensor, gradient: Tensor?) throws -> Float {
        let op = "mseLoss"
        try requireF32(prediction, op: op)
        try requireF32(target, op: op)
        guard prediction.shape == target.shape, gradient.map({ $0.shape == prediction.shape }) ?? true else {
            throw SlimError.shapeMismatch(op: op, detail: "\(prediction.label), \(target.label) and the gradient must have one shape")
        }
        guard prediction.elementCount > 0 else { throw SlimError.shapeMismatch(op: op, detail: "\(prediction.label) is empty") }
        let diff = try gradient ?? allocate(prediction.shape, name: "mse.difference")
        try scale(target, by: -1, into: diff)
        try add(prediction, diff, into: diff)
        let perRow = try allocate([prediction.shape.outerCount], name: "mse.rows")
        try reduceRows(diff, .sumOfSquares, into: perRow)
        let count = Double(prediction.elementCount)
        if let gradient { try scale(diff, by: Float(2 / count), into: gradient) }
        return Float(try floats(perRow).reduce(0.0) { $0 + Double($1) } / count)
    }

    /// Cosine embedding loss against a target embedding per row: `mean over rows of (1 − cos(a_r, b_r))`,
    /// the gradient with respect to `a` (the student; `b` is the target).
    public func cosineEmbeddingLoss(_ a: Tensor, _ b: Tensor, gradient: Tensor?) throws -> Float {
        let rows = a.shape.outerCount
        let cosine = try allocate([rows], name: "cosine.rows")
        try cosineSimilarityRows(a, b, into: cosine, gradA: gradient, gradB: nil, gradientScale: Float(-1 / Double(rows)))
        return Float(try floats(cosine).reduce(0.0) { $0 + 1 - Double($1) } / Double(rows))
    }
}
