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

    public func swiglu(_ gate: Tensor, _ up: Tensor, into out: Tensor) throws {
        try checkUnary(gate, out: out, op: "swiglu", on: id)
        try checkUnary(up, out: out, op: "swiglu", on: id)
        try launch("elementwise", "swiglu", [.buffer(gate), .buffer(up), .buffer(out), .int(out.elementCount)],
                   global: [out.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func rope(_ x: Tensor, positions: Tensor, base: Float, rotaryDim: Int, style: RopeStyle) throws {
        try checkRope(x, positions: positions, rotaryDim: rotaryDim, on: id)
        let theta = try tensor(ropeFrequencies(base: base, rotaryDim: rotaryDim), shape: [rotaryDim / 2], name: "rope.theta")
        let (tokens, heads, dim) = (x.shape[0], x.shape[1], x.shape[2])
        let half = rotaryDim / 2, ls = min(64, half.roundedUpToPowerOfTwo)
        try launch("elementwise", "rope",
                   [.buffer(x), .buffer(positions), .buffer(theta), .int(heads), .int(dim), .int(rotaryDim),
                    .int(style == .halves ? 1 : 0), .int(tokens)],
                   global: [half, heads, tokens], local: [ls, 1, 1])
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
