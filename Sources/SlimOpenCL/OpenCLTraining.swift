import SlimCore

// Host code of Kernels/training.cl: the backward passes, row reductions, loss
// rows and AdamW of a training step (issue #7). Every kernel of the family is
// built with one options string per device, so the family costs one compile.

extension OpenCLBackend {
    /// `-D LS` (work-items per row) and the `CW` × `CR` shape of the column sums.
    private var trainingShape: (ls: Int, cw: Int, cr: Int, options: String) {
        let ls = tuning.rowWorkGroup, cw = max(1, min(32, ls / 4)), cr = max(1, ls / cw)
        return (ls, cw, cr, "-D LS=\(ls) -D CW=\(cw) -D CR=\(cr)")
    }

    private func training(_ kernel: String, _ arguments: [KernelArgument], global: [Int], local: [Int]) throws {
        try launch("training", kernel, options: trainingShape.options, arguments, global: global, local: local)
    }

    /// A row kernel: one work-group of `LS` work-items per row.
    private func trainingRows(_ kernel: String, rows: Int, _ arguments: [KernelArgument]) throws {
        let ls = trainingShape.ls
        try training(kernel, arguments, global: [rows * ls], local: [ls])
    }

    public func geluBackward(_ x: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws {
        try checkGeluBackward(x, dy: dy, dx: dx, on: id)
        try training("gelu_backward", [.buffer(x), .buffer(dy), .buffer(dx), .int(x.elementCount)],
                     global: [x.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func softmaxRowsBackward(_ y: Tensor, gradOutput dy: Tensor, into dx: Tensor) throws {
        try checkSoftmaxBackward(y, dy: dy, dx: dx, on: id)
        try trainingRows("softmax_backward_rows", rows: y.shape.outerCount,
                         [.buffer(y), .buffer(dy), .buffer(dx), .int(y.shape.innermost)])
    }

    /// `dx` per row (a work-group each); `dGamma` and `dBeta` (written, not
    /// accumulated) by `CW` features × `CR` row lanes per work-group.
    public func layerNormBackward(_ x: Tensor, gamma: Tensor, stats: NormStatistics, gradOutput dy: Tensor,
                                  into grads: LayerNormGradients) throws {
        try checkLayerNormBackward(x, gamma: gamma, stats: stats, dy: dy, grads: grads, on: id)
        let rows = x.shape.outerCount, width = x.shape.innermost, shape = trainingShape
        try trainingRows("layernorm_backward_rows", rows: rows,
                         [.buffer(x), .buffer(gamma), .buffer(stats.mean), .buffer(stats.rstd), .buffer(dy),
                          .buffer(grads.dx), .int(width)])
        try training("layernorm_backward_params",
                     [.buffer(x), .buffer(stats.mean), .buffer(stats.rstd), .buffer(dy), .buffer(grads.dGamma),
                      .buffer(grads.dBeta), .int(rows), .int(width)],
                     global: [width, shape.cr], local: [shape.cw, shape.cr])
    }

    /// `gradTable[ids[i]] += dy[i]`, without atomics: a work-item per (feature,
    /// id bucket) adds the rows of its bucket in token order. Ids outside the
    /// table are skipped. GPUs split the ids into 16 buckets for parallelism
    /// past the feature count; CPU devices use one.
    public func embeddingBackward(_ ids: Tensor, gradOutput dy: Tensor, into gradTable: Tensor) throws {
        try checkEmbeddingBackward(ids, dy: dy, gradTable: gradTable, on: id)
        let width = gradTable.shape[1], buckets = tuning.rowWorkGroup > 1 ? 16 : 1
        try training("embedding_backward",
                     [.buffer(ids), .buffer(dy), .buffer(gradTable), .int(gradTable.shape[0]), .int(width),
                      .int(ids.elementCount), .int(buckets)],
                     global: [width, buckets], local: [min(64, tuning.elementwiseWorkGroup), 1])
    }

    public func reduceRows(_ x: Tensor, _ reduction: Reduction, into out: Tensor) throws {
        try checkReduceRows(x, out: out, on: id)
        let code = switch reduction { case .sum: 0; case .mean: 1; case .max: 2; case .sumOfSquares: 3 }
        try trainingRows("reduce_rows", rows: x.shape.outerCount,
                         [.buffer(x), .buffer(out), .int(x.shape.innermost), .int(code)])
    }

    public func adamW(_ param: Tensor, gradient: Tensor, state: AdamWState, step: AdamWStep) throws {
        try checkAdamW(param, gradient: gradient, state: state, step: step, on: id)
        let (c1, c2) = step.biasCorrections
        try training("adamw",
                     [.buffer(param), .buffer(gradient), .buffer(state.m), .buffer(state.v), .int(param.elementCount),
                      .float(step.learningRate), .float(step.beta1), .float(step.beta2), .float(1 - step.beta1),
                      .float(1 - step.beta2), .float(step.epsilon), .float(step.decayFactor), .float(c1), .float(c2),
                      .float(step.gradientScale)],
                     global: [param.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func softmaxLossRows(_ logits: Tensor, target: SoftmaxTarget, temperature: Float, loss: Tensor,
                                gradient: Tensor?, gradientScale: Float) throws {
        try checkSoftmaxLoss(logits, target: target, temperature: temperature, loss: loss, gradient: gradient, on: id)
        let rows = logits.shape.outerCount, width = logits.shape.innermost
        let grad: KernelArgument = gradient.map { .buffer($0) } ?? .null
        switch target {
        case let .logits(teacher):
            try trainingRows("softmax_kl_rows", rows: rows,
                             [.buffer(logits), .buffer(teacher), .int(width), .float(1 / temperature), .buffer(loss), grad,
                              .float(gradientScale)])
        case let .labels(labels, ignoreIndex):
            try trainingRows("softmax_cross_entropy_rows", rows: rows,
                             [.buffer(logits), .buffer(labels), .int(width), .float(1 / temperature), .int(Int(ignoreIndex)),
                              .buffer(loss), grad, .float(gradientScale)])
        }
    }

    public func cosineSimilarityRows(_ a: Tensor, _ b: Tensor, into cosine: Tensor, gradA: Tensor?, gradB: Tensor?,
                                     gradientScale: Float) throws {
        try checkCosineRows(a, b, cosine: cosine, gradA: gradA, gradB: gradB, on: id)
        try trainingRows("cosine_rows", rows: a.shape.outerCount,
                         [.buffer(a), .buffer(b), .buffer(cosine), gradA.map { .buffer($0) } ?? .null,
                          gradB.map { .buffer($0) } ?? .null, .int(a.shape.innermost), .float(cosineNormFloor),
                          .float(gradientScale)])
    }
}
