import SlimCore

extension OpenCLBackend {
    public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws { try binary(a, b, out, op: "add", code: 0) }
    public func mul(_ a: Tensor, _ b: Tensor, into out: Tensor) throws { try binary(a, b, out, op: "mul", code: 1) }

    public func scale(_ x: Tensor, by alpha: Float, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "scale", on: id)
        try launch("elementwise", "scale", [.buffer(x), .buffer(out), .int(x.elementCount), .float(alpha)],
                   global: [x.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func gelu(_ x: Tensor, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "gelu", on: id)
        try launch("elementwise", "gelu", [.buffer(x), .buffer(out), .int(x.elementCount)],
                   global: [x.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func gatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, into out: Tensor) throws {
        try checkGatedActivation(gate, up, activation, out: out, on: id)
        let kind = switch activation {  // GATE_ in elementwise.cl
        case .silu: 0
        case .geluTanh: 1
        }
        try launch("elementwise", "gated_activation",
                   [.buffer(gate), .buffer(up), .buffer(out), .int(out.elementCount), .int(kind)],
                   global: [out.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func rope(_ x: Tensor, positions: Tensor, inverseFrequencies: Tensor, style: RopeStyle) throws {
        try checkRope(x, positions: positions, inverseFrequencies: inverseFrequencies, on: id)
        let (tokens, heads, dim) = (x.shape[0], x.shape[1], x.shape[2])
        let pairs = inverseFrequencies.elementCount, ls = min(64, pairs.roundedUpToPowerOfTwo)
        try launch("elementwise", "rope",
                   [.buffer(x), .buffer(positions), .buffer(inverseFrequencies), .int(heads), .int(dim), .int(pairs),
                    .int(style == .halves ? 1 : 0), .int(tokens)],
                   global: [pairs, heads, tokens], local: [ls, 1, 1])
    }

    private func binary(_ a: Tensor, _ b: Tensor, _ out: Tensor, op: String, code: Int) throws {
        try checkBroadcast(a, b, out: out, op: op)
        try requireOn(id, [a, b, out], op: op)
        try launch("elementwise", "binary_op",
                   [.buffer(a), .buffer(b), .buffer(out), .int(a.elementCount), .int(b.elementCount), .int(code)],
                   global: [a.elementCount], local: [tuning.elementwiseWorkGroup])
    }
}

extension Int {
    var roundedUpToPowerOfTwo: Int { self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount) }
}
