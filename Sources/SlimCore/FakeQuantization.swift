/// The integer grid of fake quantization (quantization-aware training).
///
/// A weight `[rows, K]` is cut along `K` into groups of ``groupSize``
/// consecutive values; each group has a scale `s` and, on an asymmetric grid,
/// a zero point `z` (an integer stored as f32). The forward pass computes
/// `ŵ = s · (clamp(round(w / s) + z, low, high) − z)` with `round` to nearest,
/// ties away from zero, and `ŵ = 0` where `s = 0`: exactly what ``QuantCodec``
/// encoding with those scales and decoding gives, so a model trained through it
/// exports to the packed format without a single weight moving.
///
/// The backward pass is the straight-through estimator: with `v = w / s`, a
/// weight *inside* the grid (`low ≤ round(v) + z ≤ high`: not clamped, the
/// criterion of PyTorch's `fake_quantize_per_channel_affine`) passes its
/// gradient unchanged, one outside passes nothing. The scale's gradient is
/// LSQ's (Esser et al. 2020): `∂ŵ/∂s = round(v) − v` inside and
/// `(clamped level − z)` outside, summed over the group. A zero scale (an
/// all-zero group) passes the weight gradient through and gets no scale gradient.
public struct FakeQuantGrid: Sendable, Equatable, CustomStringConvertible {
    public let groupSize: Int
    public let low: Int, high: Int
    public let asymmetric: Bool
    /// The format this grid reproduces.
    public let format: QuantFormat

    /// The grid of `format` for a weight of `columns` inputs: int8 per channel
    /// is one group per row on −127...127, symmetric int4 groups of `g` on
    /// −8...7, asymmetric int4 on 0...15 with zero points. GGUF blocks (fp16
    /// scales) have no training grid.
    public init(format: QuantFormat, columns: Int) throws(SlimError) {
        self.format = format
        switch format {
        case .int8PerChannel:
            (groupSize, low, high, asymmetric) = (columns, -127, 127, false)
        case let .int4(g, symmetric):
            (groupSize, low, high, asymmetric) = symmetric ? (g, -8, 7, false) : (g, 0, 15, true)
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q6_K:
            throw .unsupported(op: "fake quantization", backend: "training",
                               reason: "\(format) stores fp16 scales; train int8 or int4-gN and export those")
        case .bf16, .f16:
            throw .unsupported(op: "fake quantization", backend: "training", reason: "\(format) weights are not quantized: train in fp32")
        }
        guard columns > 0, columns % groupSize == 0 else {
            throw .shapeMismatch(op: "fake quantization", detail: "\(columns) columns are not a whole number of \(format) groups of \(groupSize)")
        }
    }

    public var description: String { format.description }

    /// Groups in a row of `columns` weights.
    public func groups(columns: Int) -> Int { columns / groupSize }

    /// One weight by the definition, in the fp32 arithmetic the backends use
    /// (the forward must match the codec bit for bit): `ŵ`, `∂ŵ/∂w` (1 or 0) and `∂ŵ/∂s`.
    public func reference(_ w: Float, scale s: Float, zero z: Float) -> (value: Float, dw: Float, ds: Float) {
        guard s != 0 else { return (0, 1, 0) }
        let v = w / s, r = v.rounded(), level = self.level(w, scale: s, zero: z)
        let inside = Float(low) <= r + z && r + z <= Float(high)
        return (s * (level - z), inside ? 1 : 0, inside ? r - v : level - z)
    }

    /// The integer level a weight lands on, `clamp(round(w / s) + z, low, high)`
    /// (`z` where `s = 0`): what the forward scales back and the export packs.
    /// NaN stays NaN (a clamp would put it on the lowest level, a finite weight
    /// from a broken one); ±∞ clamps to the grid's ends like any large weight.
    public func level(_ w: Float, scale s: Float, zero z: Float) -> Float {
        guard s != 0 else { return z }
        let q = (w / s).rounded() + z
        return q.isNaN ? q : min(Float(high), max(Float(low), q))
    }
}

/// The checks of ``Backend/fakeQuantize(_:scales:zeros:grid:into:)`` and its
/// backward: `w` (and `out`, `dy`, `dw`) f32 `[rows, K]`; `scales` (and `zeros`,
/// the scale gradient) one f32 per group; zeros exactly when the grid is asymmetric.
public func checkFakeQuantize(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, outputs: [Tensor],
                              groupTensors: [Tensor] = [], op: String, on backend: BackendID) throws(SlimError) {
    guard w.shape.rank == 2 else { throw .shapeMismatch(op: op, detail: "\(w.label) \(w.shape) must be [rows, columns]") }
    let rows = w.shape[0], columns = w.shape[1]
    guard columns % grid.groupSize == 0 else {
        throw .shapeMismatch(op: op, detail: "\(w.label) has \(columns) columns, not a whole number of \(grid) groups of \(grid.groupSize)")
    }
    guard (zeros != nil) == grid.asymmetric else {
        throw .invalidArgument("\(op): a \(grid) grid \(grid.asymmetric ? "needs" : "takes no") zero points")
    }
    let groups = rows * grid.groups(columns: columns)
    for t in [w, scales] + outputs + groupTensors + (zeros.map { [$0] } ?? []) { try requireF32(t, op: op) }
    for t in outputs where t.elementCount != w.elementCount {
        throw .shapeMismatch(op: op, detail: "\(t.label) \(t.shape) must hold the \(w.elementCount) values of \(w.label)")
    }
    for t in [scales] + groupTensors + (zeros.map { [$0] } ?? []) where t.elementCount != groups {
        throw .shapeMismatch(op: op, detail: "\(t.label) \(t.shape) must hold one value per group: \(rows) rows × \(grid.groups(columns: columns))")
    }
    try requireOn(backend, [w, scales] + outputs + groupTensors + (zeros.map { [$0] } ?? []), op: op)
}
