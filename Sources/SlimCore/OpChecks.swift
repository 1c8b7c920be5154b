// Operand checks shared by every backend, so both reject the same inputs with
// the same message.

/// Throws unless `t` holds fp32 elements.
public func requireF32(_ t: Tensor, op: String) throws(SlimError) {
    guard t.dtype == .f32 else { throw .dtypeMismatch(op: op, detail: "\(t.label) must be f32") }
}

/// Throws unless `a` and `b` have the same element count.
public func requireSameCount(_ a: Tensor, _ b: Tensor, op: String) throws(SlimError) {
    guard a.elementCount == b.elementCount else {
        throw .shapeMismatch(op: op, detail: "\(a.label) and \(b.label) differ in size")
    }
}

/// Checks a binary elementwise op `out = a ∘ b` where `b` is either as large as
/// `a` or repeats over `a`'s leading dimensions (a bias row, a per-channel
/// scale): `a`'s trailing dimensions must equal `b`'s shape.
public func checkBroadcast(_ a: Tensor, _ b: Tensor, out: Tensor, op: String) throws(SlimError) {
    for t in [a, b, out] { try requireF32(t, op: op) }
    try requireSameCount(a, out, op: op)
    let bd = b.shape.dims.drop { $0 == 1 && b.shape.rank > 1 }
    guard b.elementCount > 0, Array(a.shape.dims.suffix(bd.count)) == Array(bd) || b.elementCount == a.elementCount else {
        throw .shapeMismatch(op: op, detail: "\(b.label) neither matches \(a.label) nor repeats over its leading dimensions")
    }
}

/// Checks a row-wise op over the last dimension: `x` and `out` have the same
/// shape, and each optional per-feature parameter has one element per column.
public func checkRows(_ x: Tensor, out: Tensor, perFeature: [Tensor], op: String) throws(SlimError) {
    for t in [x, out] + perFeature { try requireF32(t, op: op) }
    guard x.shape == out.shape else { throw .shapeMismatch(op: op, detail: "input \(x.label) and output \(out.label) differ") }
    for p in perFeature where p.elementCount != x.shape.innermost {
        throw .shapeMismatch(op: op, detail: "\(p.label) must have \(x.shape.innermost) elements, one per feature")
    }
}

/// Throws unless `t` lives on `backend`.
public func requireOn(_ backend: BackendID, _ tensors: [Tensor], op: String) throws(SlimError) {
    for t in tensors where t.backend != backend {
        throw .wrongBackend(op: op, tensor: t.label, lives: t.backend.description, expected: backend.description)
    }
}

/// Checks the optional per-row statistics a normalisation saves: one f32 value per row each.
public func checkStatistics(_ stats: NormStatistics?, rows: Int, op: String) throws(SlimError) {
    guard let stats else { return }
    for t in [stats.mean, stats.rstd] where t.elementCount != rows || t.dtype != .f32 {
        throw .shapeMismatch(op: op, detail: "statistics \(t.label) must hold \(rows) f32 values")
    }
}

/// The checks of a unary elementwise op `out = f(x)` on `backend`.
public func checkUnary(_ x: Tensor, out: Tensor, op: String, on backend: BackendID) throws(SlimError) {
    try requireF32(x, op: op)
    try requireF32(out, op: op)
    try requireSameCount(x, out, op: op)
    try requireOn(backend, [x, out], op: op)
}

/// The checks of a layer norm on `backend`.
public func checkLayerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, out: Tensor, stats: NormStatistics?,
                           on backend: BackendID) throws(SlimError) {
    let op = "layerNorm"
    try checkRows(x, out: out, perFeature: [gamma, beta], op: op)
    try checkStatistics(stats, rows: x.shape.outerCount, op: op)
    try requireOn(backend, [x, gamma, beta, out] + (stats.map { [$0.mean, $0.rstd] } ?? []), op: op)
}

/// The checks of an embedding lookup: i32 ids, an f32 `[rows, width]` table,
/// and an output of one table row per id.
public func checkEmbedding(_ ids: Tensor, table: Tensor, out: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "embedding"
    guard ids.dtype == .i32 else { throw .dtypeMismatch(op: op, detail: "ids \(ids.label) must be i32") }
    try requireF32(table, op: op)
    try requireF32(out, op: op)
    guard table.shape.rank == 2, out.elementCount == ids.elementCount * table.shape[1], out.shape.innermost == table.shape[1] else {
        throw .shapeMismatch(op: op, detail: "output \(out.label) must hold \(ids.elementCount) rows of \(table.shape.innermost) for table \(table.label)")
    }
    try requireOn(backend, [ids, table, out], op: op)
}

/// The checks of a rotary embedding by base: those of its operands, and a
/// rotary dimension that is even and fits the head.
public func checkRope(_ x: Tensor, positions: Tensor, rotaryDim: Int, on backend: BackendID) throws(SlimError) {
    try checkRotated(x, positions: positions, on: backend)
    guard rotaryDim > 0, rotaryDim % 2 == 0, rotaryDim <= x.shape[2] else {
        throw .invalidArgument("rope: rotary dimension \(rotaryDim) must be even and at most the head dimension \(x.shape[2])")
    }
}

/// The checks of a rotary embedding from a table: those of its operands, and
/// an f32 `[pairs]` table whose `2 · pairs` rotated features fit the head.
public func checkRope(_ x: Tensor, positions: Tensor, inverseFrequencies table: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "rope"
    try checkRotated(x, positions: positions, on: backend)
    try requireF32(table, op: op)
    guard table.shape.rank == 1, table.elementCount > 0, 2 * table.elementCount <= x.shape[2] else {
        throw .shapeMismatch(op: op, detail: "inverse frequencies \(table.label) must be [pairs] with 2 × pairs at most the head dimension \(x.shape[2]) of \(x.label)")
    }
    try requireOn(backend, [table], op: op)
}

/// `x` an f32 `[tokens, heads, headDim]` with one i32 position per token, both on `backend`.
private func checkRotated(_ x: Tensor, positions: Tensor, on backend: BackendID) throws(SlimError) {
    let op = "rope"
    try requireF32(x, op: op)
    guard x.shape.rank == 3 else { throw .shapeMismatch(op: op, detail: "\(x.label) must be [tokens, heads, headDim]") }
    guard positions.dtype == .i32, positions.elementCount == x.shape[0] else {
        throw .shapeMismatch(op: op, detail: "positions \(positions.label) must be \(x.shape[0]) i32 values, one per token")
    }
    try requireOn(backend, [x, positions], op: op)
}

/// The checks of a gated activation `out = activation(gate) · up`: three f32
/// tensors of one size on `backend`.
public func checkGatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, out: Tensor,
                                 on backend: BackendID) throws(SlimError) {
    let op = "gatedActivation(\(activation.rawValue))"
    try checkUnary(gate, out: out, op: op, on: backend)
    try checkUnary(up, out: out, op: op, on: backend)
}

/// The checks of a ranged copy: same byte-sized element type, both ranges inside their tensors.
/// Returns the element size in bytes.
public func checkCopyElements(_ source: Tensor, from: Int, to destination: Tensor, at: Int, count: Int,
                              on backend: BackendID) throws(SlimError) -> Int {
    let op = "copyElements"
    try requireOn(backend, [source, destination], op: op)
    guard source.dtype == destination.dtype, source.dtype.bitWidth % 8 == 0 else {
        throw .dtypeMismatch(op: op, detail: "\(source.label) into \(destination.label): element types must match and be whole bytes")
    }
    guard count >= 0, from >= 0, at >= 0, from + count <= source.elementCount, at + count <= destination.elementCount else {
        throw .shapeMismatch(op: op, detail: "\(count) elements from \(from) of \(source.label) to \(at) of \(destination.label) run outside a tensor")
    }
    return source.dtype.bitWidth / 8
}
