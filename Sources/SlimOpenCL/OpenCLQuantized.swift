import SlimCore

extension OpenCLBackend {
    public func quantize(_ w: Tensor, format: QuantFormat) throws -> QuantizedTensor {
        try quantizeOnHost(w, format: format)
    }

    public func dequantize(_ w: QuantizedTensor, into out: Tensor) throws {
        try checkDequantize(w, into: out, on: id)
        try launch("qgemm", "qgemm_dequantize", options: Self.formatOptions(w.format, activations: .f32) + " -D TM=1 -D LS=1",
                   [.int(w.rows), .int(w.columns), .buffer(w.data), optional(w.scales), optional(w.zeros), .buffer(out)],
                   global: [(w.columns + 31) / 32, w.rows], local: [tuning.helperWorkGroup, 1])
    }

    /// `Y = X · Wᵀ (+ bias)` with W decoded in registers: the GEMV shape (a
    /// work-group per output row) for up to the row's TM tokens, the blocked
    /// shape (TM tokens per work-item) beyond.
    public func quantizedMatmul(_ x: Tensor, _ w: QuantizedTensor, bias: Tensor?, into y: Tensor,
                                activations: ActivationPrecision) throws {
        let s = try QuantizedMatmulShape(x: x, w: w, bias: bias, y: y, activations: activations)
        try requireOn(id, [x, y] + w.tensors + (bias.map { [$0] } ?? []), op: "quantizedMatmul")
        guard s.m > 0 else { return }  // no tokens, nothing to write (and no zero-length register arrays to build)
        let w8a8 = activations != .f32, perBlock = activations == .int8PerBlock
        var operand = x, xScales: Tensor? = nil
        if w8a8 {
            operand = try allocate([s.m, s.k], dtype: .i8, name: "quantized activations")
            xScales = try allocate([s.m * (perBlock ? s.k / 32 : 1)], name: "activation scales")
            // Levels rounded as the host rounds them (see divide_as_host in qgemm.cl).
            let options = Self.formatOptions(w.format, activations: activations) + " -D TM=1 -D LS=1"
                + (device.correctlyRoundedDivide ? " -cl-fp32-correctly-rounded-divide-sqrt" : "")
            let arguments: [KernelArgument] = [.int(s.m), .int(s.k), .buffer(x), .buffer(operand), .buffer(xScales!)]
            let ls = tuning.helperWorkGroup
            if perBlock {
                try launch("qgemm", "qgemm_quantize_blocks", options: options, arguments, global: [s.k / 32, s.m], local: [ls, 1])
            } else {
                try launch("qgemm", "qgemm_quantize_rows", options: options, arguments, global: [s.m], local: [ls])
            }
        }
        let tokensPerItem = tuning.quantTokens
        let arguments: [KernelArgument] = [
            .int(s.m), .int(s.n), .int(s.k), .buffer(operand), .buffer(w.data), optional(w.scales), optional(w.zeros),
            optional(xScales), optional(bias), .buffer(y),
        ]
        let base = Self.formatOptions(w.format, activations: activations) + " -D TM=\(tokensPerItem)"
        if s.m <= tokensPerItem {
            // Built for exactly M tokens (fixed trip counts, accumulators in registers).
            let ls = tuning.gemvWorkGroup, options = Self.formatOptions(w.format, activations: activations) + " -D TM=\(s.m)"
            try launch("qgemm", "qgemv", options: options + " -D LS=\(ls)", arguments, global: [s.n * ls], local: [ls])
        } else {
            try launch("qgemm", "qgemm_blocked", options: base + " -D LS=1", arguments,
                       global: [s.n, (s.m + tokensPerItem - 1) / tokensPerItem], local: [tuning.blockedWorkGroup, 1])
        }
    }

    private func optional(_ t: Tensor?) -> KernelArgument { t.map { .buffer($0) } ?? .null }

    /// The `-D` options that select a format in qgemm.cl.
    static func formatOptions(_ format: QuantFormat, activations: ActivationPrecision) -> String {
        let fmt: String = switch format {
        case .int8PerChannel: "-D FMT=0"
        case let .int4(g, symmetric): "-D FMT=1 -D GROUP=\(g) -D SYM=\(symmetric ? 1 : 0)"
        case .q8_0: "-D FMT=2"
        case .q4_0: "-D FMT=3"
        case .q4_1: "-D FMT=4"
        case .q4_K: "-D FMT=5"
        case .q6_K: "-D FMT=6"
        case .q5_0: "-D FMT=7"
        case .q5_1: "-D FMT=8"
        case .bf16: "-D FMT=9"
        case .f16: "-D FMT=10"
        }
        return fmt + " -D W8A8=\(activations == .f32 ? 0 : 1) -D XBLOCK=\(activations == .int8PerBlock ? 1 : 0)"
    }
}
