import SlimCore

// Training with the compression in the loop (issue #9): fake-quantized
// weights (QAT) and fixed sparsity masks (sparse fine-tuning).

extension StudentBert {
    /// Trains every linear layer through `format`'s fake quantization, and the
    /// word and position tables through int8 per row (how `slim compress`
    /// stores them), so the exported model computes what training computed.
    /// Scales start from `initial(name, format)` when it has them (a GPTQ
    /// folder's), else from round to nearest of the current weights.
    public func quantize(_ format: QuantFormat, learnsScales: Bool,
                         initial: (String, QuantFormat) throws -> QuantCodec.Encoded? = { _, _ in nil }) throws {
        guard tableQuant.isEmpty else { throw SlimError.invalidArgument("the student is already trained quantized") }
        let b = backend
        func start(_ p: Parameter, _ f: QuantFormat) throws -> QuantCodec.Encoded {
            let w = try b.floats(p.value)
            // Checked even when the scales come from a folder: a non-finite latent weight has no level.
            try FiniteCheck.requireQuantizable(w, tensor: p.name, format: f)
            if let e = try initial(p.name, f) { return e }
            return try QuantCodec.encode(w, rows: p.shape[0], columns: p.shape[1], format: f, name: p.name)
        }
        for i in layers.indices { try layers[i].quantize(format, learnsScales: learnsScales, on: b) { try start($0, format) } }
        for table in [word, position] {
            tableQuant[table.name] = try FakeQuantizedWeight(latent: table, format: .int8PerChannel, initial: try start(table, .int8PerChannel),
                                                             learnsScales: learnsScales, on: b)
        }
    }

    /// Every fake-quantized weight's packed form, by weight name, with its format.
    public func packedWeights() throws -> [String: (format: QuantFormat, encoded: QuantCodec.Encoded)] {
        var out: [String: (QuantFormat, QuantCodec.Encoded)] = [:]
        for d in layers.flatMap(\.denses) {
            if let q = d.quant { out[d.weight.name] = (q.grid.format, try q.encoded(d.weight, on: backend)) }
        }
        for table in [word, position] {
            if let q = tableQuant[table.name] { out[table.name] = (q.grid.format, try q.encoded(table, on: backend)) }
        }
        return out
    }

    /// Keeps every linear weight's zeros at zero from now on (ASP-style sparse
    /// fine-tuning): their gradients are masked before each update and their
    /// values after it. Returns how many weights the masks hold at zero.
    @discardableResult
    public func fixSparsity() throws -> Int {
        var zeros = 0
        for d in layers.flatMap(\.denses) {
            let mask = try backend.floats(d.weight.value).map { $0 == 0 ? Float(0) : 1 }
            zeros += mask.count { $0 == 0 }
            masks[d.weight.name] = try backend.tensor(mask, shape: d.weight.shape, name: d.weight.name + ".mask")
        }
        return zeros
    }

    /// Multiplies the masked parameters' gradients (before the optimizer) or values (after it) by their masks.
    func applyMasks(toGradients: Bool) throws {
        for p in parameters {
            guard let mask = masks[p.name] else { continue }
            let t = toGradients ? p.grad : p.value
            try backend.mul(t, mask, into: t)
        }
    }
}
