// Operand checks of the training ops (backward passes, reductions, losses,
// AdamW), shared by every backend so both reject the same inputs with the same
// message. Each names the op and the tensor at fault.

/// Throws unless every tensor in `tensors` has `a`'s shape.
func requireSameShape(_ a: Tensor, _ tensors: [Tensor], op: String) throws(SlimError) {
    for t in tensors where t.shape != a.shape {
        throw .shapeMismatch(op: op, detail: "\(t.label) must have the shape \(a.shape) of \(a.label)")
    }
}

/// The checks of `dx = dy · GELU'(x)`: three f32 tensors of one element count.
public func checkGeluBackward(_ x: Tensor, dy: Tensor, dx: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "geluBackward"
    try checkUnary(x, out: dx, op: op, on: backend)
    try requireF32(dy, op: op)
    try requireSameCount(x, dy, op: op)
    try requireOn(backend, [dy], op: op)
}

/// The checks of the softmax backward: `y`, `dy` and `dx` of one shape.
public func checkSoftmaxBackward(_ y: Tensor, dy: Tensor, dx: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "softmaxRowsBackward"
    try checkRows(y, out: dx, perFeature: [], op: op)
    try requireF32(dy, op: op)
    try requireSameShape(y, [dy], op: op)
    try requireOn(backend, [y, dy, dx], op: op)
}

/// The checks of the layer-norm backward: `x`, `dy`, `dx` of one shape, `gamma`,
/// `dGamma`, `dBeta` one element per feature, statistics one value per row.
public func checkLayerNormBackward(_ x: Tensor, gamma: Tensor, stats: NormStatistics, dy: Tensor,
                                   grads: LayerNormGradients, on backend: BackendID) throws(SlimError) {
    let op = "layerNormBackward"
    try checkRows(x, out: grads.dx, perFeature: [gamma, grads.dGamma, grads.dBeta], op: op)
    try requireF32(dy, op: op)
    try requireSameShape(x, [dy], op: op)
    try checkStatistics(stats, rows: x.shape.outerCount, op: op)
    try requireOn(backend, [x, gamma, stats.mean, stats.rstd, dy, grads.dx, grads.dGamma, grads.dBeta], op: op)
}

/// The checks of the embedding backward: i32 ids, an f32 `[rows, width]`
/// gradient table, and `dy` holding one row of `width` per id.
public func checkEmbeddingBackward(_ ids: Tensor, dy: Tensor, gradTable: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "embeddingBackward"
    guard ids.dtype == .i32 else { throw .dtypeMismatch(op: op, detail: "ids \(ids.label) must be i32") }
    try requireF32(dy, op: op)
    try requireF32(gradTable, op: op)
    guard gradTable.shape.rank == 2 else {
        throw .shapeMismatch(op: op, detail: "gradient table \(gradTable.label) must be [rows, width]")
    }
    let width = gradTable.shape[1]
    guard dy.elementCount == ids.elementCount * width, dy.shape.innermost == width || ids.elementCount == 0 else {
        throw .shapeMismatch(op: op, detail: "gradient \(dy.label) must hold \(ids.elementCount) rows of \(width) for table \(gradTable.label)")
    }
    try requireOn(backend, [ids, dy, gradTable], op: op)
}

/// The checks of a reduction over the last dimension: one output per row.
public func checkReduceRows(_ x: Tensor, out: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "reduceRows"
    try requireF32(x, op: op)
    try requireF32(out, op: op)
    guard x.shape.rank >= 1, x.shape.innermost > 0 else {
        throw .shapeMismatch(op: op, detail: "\(x.label) must have a non-empty last dimension")
    }
    guard out.elementCount == x.shape.outerCount else {
        throw .shapeMismatch(op: op, detail: "output \(out.label) must hold \(x.shape.outerCount) values, one per row of \(x.label)")
    }
    try requireOn(backend, [x, out], op: op)
}

/// The checks of an AdamW step: parameter, gradient and both moments f32 of
/// one element count, a step number of at least 1, hyper-parameters in range.
public func checkAdamW(_ param: Tensor, gradient: Tensor, state: AdamWState, step: AdamWStep,
                       on backend: BackendID) throws(SlimError) {
    let op = "adamW"
    for t in [param, gradient, state.m, state.v] {
        try requireF32(t, op: op)
        try requireSameCount(param, t, op: op)
    }
    guard step.step >= 1 else { throw .invalidArgument("adamW: step \(step.step) must be 1 or more (it is 1-based)") }
    guard (0..<1).contains(step.beta1), (0..<1).contains(step.beta2) else {
        throw .invalidArgument("adamW: beta1 \(step.beta1) and beta2 \(step.beta2) must lie in [0, 1)")
    }
    guard step.epsilon > 0, step.learningRate.isFinite, step.weightDecay.isFinite, step.gradientScale.isFinite else {
        throw .invalidArgument("adamW: epsilon must be positive and the learning rate, weight decay and gradient scale finite")
    }
    try requireOn(backend, [param, gradient, state.m, state.v], op: op)
}

/// The checks of a softmax loss over rows: `logits` f32, one loss per row, a
/// gradient shaped like the logits, and a target of one i32 label per row or
/// teacher logits of the logits' shape.
public func checkSoftmaxLoss(_ logits: Tensor, target: SoftmaxTarget, temperature: Float, loss: Tensor,
                             gradient: Tensor?, on backend: BackendID) throws(SlimError) {
    let op = "softmaxLossRows"
    try requireF32(logits, op: op)
    try requireF32(loss, op: op)
    guard logits.shape.rank >= 1, logits.shape.innermost > 0 else {
        throw .shapeMismatch(op: op, detail: "logits \(logits.label) must have a non-empty last dimension")
    }
    let rows = logits.shape.outerCount
    guard loss.elementCount == rows else {
        throw .shapeMismatch(op: op, detail: "loss \(loss.label) must hold \(rows) values, one per row of \(logits.label)")
    }
    if let gradient {
        try requireF32(gradient, op: op)
        try requireSameShape(logits, [gradient], op: op)
    }
    guard temperature > 0, temperature.isFinite else {
        throw .invalidArgument("\(op): temperature \(temperature) must be positive and finite")
    }
    switch target {
    case let .labels(labels, _):
        guard labels.dtype == .i32 else { throw .dtypeMismatch(op: op, detail: "labels \(labels.label) must be i32") }
        guard labels.elementCount == rows else {
            throw .shapeMismatch(op: op, detail: "labels \(labels.label) must hold \(rows) values, one per row of \(logits.label)")
        }
        try requireOn(backend, [labels], op: op)
    case let .logits(teacher):
        try requireF32(teacher, op: op)
        try requireSameShape(logits, [teacher], op: op)
        try requireOn(backend, [teacher], op: op)
    }
    try requireOn(backend, [logits, loss] + (gradient.map { [$0] } ?? []), op: op)
}

/// The checks of a row-wise cosine similarity: `a`, `b` and each gradient of
/// one shape, one cosine per row.
public func checkCosineRows(_ a: Tensor, _ b: Tensor, cosine: Tensor, gradA: Tensor?, gradB: Tensor?,
                            on backend: BackendID) throws(SlimError) {
    let op = "cosineSimilarityRows"
    let grads = [gradA, gradB].compactMap { $0 }
    for t in [a, b, cosine] + grads { try requireF32(t, op: op) }
    guard a.shape.rank >= 1, a.shape.innermost > 0 else {
        throw .shapeMismatch(op: op, detail: "\(a.label) must have a non-empty last dimension")
    }
    try requireSameShape(a, [b] + grads, op: op)
    guard cosine.elementCount == a.shape.outerCount else {
        throw .shapeMismatch(op: op, detail: "cosine \(cosine.label) must hold \(a.shape.outerCount) values, one per row of \(a.label)")
    }
    try requireOn(backend, [a, b, cosine] + grads, op: op)
}
