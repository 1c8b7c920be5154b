import SlimCore

/// A weight trained through fake quantization (QAT): the fp32 latent weight
/// is the parameter the optimizer updates; the forward pass uses
/// `ŵ = fakeQuantize(w)`, and the backward turns the gradient of `ŵ` into the
/// latent weight's (straight through) and, when the scales are learned, the
/// scales' (LSQ). The scales start from a quantizer's (round to nearest, or
/// a GPTQ folder's), so step 0 computes exactly what that quantized model computes.
final class FakeQuantizedWeight: @unchecked Sendable {
    // @unchecked: the tensors are device handles, written only by the training step that owns this weight.
    let grid: FakeQuantGrid
    /// One scale per group; a trainable parameter (no weight decay: rank 1).
    let scales: Parameter
    let learnsScales: Bool
    /// Zero points as f32 integers (asymmetric grids only); fixed.
    let zeros: Tensor?
    /// `ŵ`, rewritten by every ``refresh(_:on:)``.
    let value: Tensor
    /// `∂loss/∂ŵ`, written by the layer's backward.
    let gradient: Tensor

    init(latent: Parameter, format: QuantFormat, initial: QuantCodec.Encoded, learnsScales: Bool, on b: any Backend) throws {
        let columns = latent.shape[1]
        grid = try FakeQuantGrid(format: format, columns: columns)
        let groups = latent.shape[0] * grid.groups(columns: columns)
        guard initial.scales.count == groups, initial.zeros.count == (grid.asymmetric ? groups : 0) else {
            throw SlimError.shapeMismatch(op: "quantization-aware training",
                                          detail: "'\(latent.name)' has \(initial.scales.count) scales for \(groups) \(format) groups")
        }
        try FiniteCheck.require(initial.scales, tensor: latent.name + ".scales", origin: "quantization-aware training",
                                consequence: "training needs finite starting scales")
        scales = try Parameter(latent.name + ".scales", values: initial.scales, shape: [groups], on: b)
        self.learnsScales = learnsScales
        zeros = grid.asymmetric ? try b.tensor(initial.zeros.map(Float.init), shape: [groups], name: latent.name + ".zeros") : nil
        value = try b.allocate(latent.shape, name: latent.name + " (fake-quantized)")
        // Zeroed: the embedding tables' gradients are scatter-added into it.
        gradient = try b.tensor([Float](repeating: 0, count: latent.shape.elementCount), shape: latent.shape,
                                name: latent.name + " (fake-quantized).grad")
    }

    /// `ŵ` from the latent weight's current value.
    func refresh(_ latent: Parameter, on b: any Backend) throws {
        try b.fakeQuantize(latent.value, scales: scales.value, zeros: zeros, grid: grid, into: value)
    }

    /// The latent weight's gradient (and the scales') from ``gradient``.
    func backward(_ latent: Parameter, on b: any Backend) throws {
        try b.fakeQuantizeBackward(latent.value, scales: scales.value, zeros: zeros, grid: grid, gradOutput: gradient,
                                   into: latent.grad, scaleGradient: learnsScales ? scales.grad : nil)
    }

    /// The packed weight the trained model exports: each latent value's level on
    /// the grid with the current scales, in the codec's layout, so decoding it
    /// gives ``value`` exactly.
    func encoded(_ latent: Parameter, on b: any Backend) throws -> QuantCodec.Encoded {
        let w = try b.floats(latent.value), s = try b.floats(scales.value), z = try zeros.map { try b.floats($0) }
        // Training that diverged leaves NaN behind: refused by name rather than packed as garbage
        // (and before the levels below become integers).
        try FiniteCheck.requireQuantizable(w, tensor: latent.name, format: grid.format)
        try FiniteCheck.requireQuantizable(s, tensor: scales.name, format: grid.format)
        let g = grid.groupSize
        // The codec stores int8 levels as q, symmetric int4 as q + 8, asymmetric int4 as q + z.
        let offset = grid.asymmetric ? 0 : grid.high == 7 ? 8 : 0
        let levels = w.indices.map { i -> Int in
            let group = i / g
            return Int(grid.level(w[i], scale: s[group], zero: z?[group] ?? 0)) + offset
        }
        return try QuantCodec.encode(levels: levels, rows: latent.shape[0], columns: latent.shape[1], format: grid.format,
                                     scales: s, zeros: z.map { $0.map { UInt8($0) } } ?? [])
    }
}
